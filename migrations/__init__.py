"""Alembic migrations of the shadowlens index; applied automatically when the index opens."""
