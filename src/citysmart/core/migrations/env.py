"""Alembic environment: runs on the connection citysmart hands over, or on the URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import citysmart.core.models
import citysmart.core.notifications
import citysmart.hub.models
import citysmart.hub.ngsi_ld.tables  # noqa: F401  (register the tables)
import citysmart.portal.oidc.models  # noqa: F401  (register the tables)
from citysmart.core.db import Base
from citysmart.core.service import load_service_models

load_service_models()  # the services' tables, which their migrations create

config = context.config
target_metadata = Base.metadata


def run() -> None:
    """Run the migrations online."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
