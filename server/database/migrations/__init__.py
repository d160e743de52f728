"""Alembic's script directory for the server's schema (see database/migrations.py)."""
