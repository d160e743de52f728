"""Fixtures for the server tests; the helpers live in server_fixtures.py (see
tests/conftest.py for why tests never import from a conftest)."""

from server_fixtures import (
    backend,
    camera,
    moto,
    password_hashed_once,
    postgres,
    recorded_camera,
    server,
)

__all__ = ["backend", "camera", "moto", "password_hashed_once", "postgres", "recorded_camera",
           "server"]
