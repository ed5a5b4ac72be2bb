"""Alembic environment: runs migrations on the connection :func:`critmin.storage.upgrade` passes."""

from __future__ import annotations

from alembic import context

from critmin.storage.models import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # the alembic command line: connect from the configured URL
        from sqlalchemy import create_engine

        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            context.run_migrations()
        engine.dispose()
        return
    context.configure(connection=connection, target_metadata=target_metadata,
                      version_table_schema=context.config.attributes.get("schema"))
    with context.begin_transaction():
        context.run_migrations()


run()
