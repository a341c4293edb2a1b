"""Alembic's environment: migrations run on a connection that ``storage.db.Database`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import storage.tables  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes.get("connection")


def run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them; batch mode does that for us
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    # Only for writing a new revision: `alembic revision --autogenerate` against a scratch SQLite file.
    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///data/migrations-scratch.sqlite3"
    with create_engine(url).connect() as scratch:
        run(scratch)
        scratch.commit()
