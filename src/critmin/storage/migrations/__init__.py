"""Alembic migrations of the operational database (run by :func:`critmin.storage.upgrade`)."""
