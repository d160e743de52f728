"""One router module per resource of the JSON API."""
