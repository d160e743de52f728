"""Technician provisioning: validate a configuration and write it to a boot partition."""
