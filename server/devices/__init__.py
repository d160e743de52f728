"""Cameras: enrolment of their device keys, and who signed a request."""
