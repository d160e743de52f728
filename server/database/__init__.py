"""The server's metadata store: SQLite (embedded) or PostgreSQL, SQLAlchemy 2, Alembic."""
