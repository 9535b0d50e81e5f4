"""NGSI-LD tenants (the ``NGSILD-Tenant`` header, clause 4.14): one database each.

The default tenant is the hub's own database. Any other tenant gets a database of its
own, migrated by the same migrations: a PostgreSQL schema ``tenant_<name>`` on the hub's
server, or a SQLite file ``tenants/<name>.db`` beside the hub's. Nothing is shared, so
no query, subscription or temporal request can reach across tenants. A tenant comes into
being with its first write (creating an entity or a subscription, clause 4.14); reading
one that does not exist is NonexistentTenant.

Tenant names are 1 to 48 lowercase letters, digits, ``_`` and ``-``, used as they are in
the schema or file name; anything else is BadRequestData rather than a silently mangled
name.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.db import make_engine, make_sessionmaker
from citysmart.core.migrate import upgrade
from citysmart.hub.ngsi_ld.model import NgsiLdError, bad_request

TENANT_HEADER: Final = "NGSILD-Tenant"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")


class NonexistentTenant(NgsiLdError):
    """A read names a tenant that has never been written to."""

    def __init__(self, tenant: str) -> None:
        super().__init__("NonexistentTenant", "Nonexistent tenant", f"no tenant {tenant}", 404)


def check_tenant(name: str) -> str:
    """Return a valid tenant name or raise BadRequestData."""
    if not _NAME.fullmatch(name):
        raise bad_request(
            f"{TENANT_HEADER}: {name!r} is not a tenant name "
            "(1-48 lowercase letters, digits, '_' or '-', starting with a letter or digit)"
        )
    return name


class Tenants:
    """Session factories per tenant, created and migrated on first write."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session]) -> None:
        self.engine = engine
        self.default = sessions
        self._factories: dict[str, sessionmaker[Session]] = {}
        self._engines: list[Engine] = []
        self._lock = threading.Lock()

    def sessions(self, tenant: str | None, *, create: bool = False) -> sessionmaker[Session]:
        """Return the tenant's session factory; the default one for no tenant."""
        if not tenant:
            return self.default
        name = check_tenant(tenant)
        factory = self._factories.get(name)
        if factory is not None:
            return factory
        with self._lock:
            factory = self._factories.get(name)
            if factory is None:
                if not self._exists(name) and not create:
                    raise NonexistentTenant(tenant)
                factory = self._open(name)
                self._factories[name] = factory
            return factory

    def known(self) -> list[str]:
        """Return the tenants that exist, besides the default one."""
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT substr(schema_name, 8) FROM information_schema.schemata "
                        "WHERE schema_name LIKE 'tenant\\_%'"
                    )
                )
                return sorted(r[0] for r in rows)
        folder = self._folder()
        return sorted(p.stem for p in folder.glob("*.db")) if folder.exists() else []

    def dispose(self) -> None:
        """Close every tenant's connections."""
        with self._lock:
            for engine in self._engines:
                engine.dispose()
            self._engines.clear()
            self._factories.clear()

    def _exists(self, name: str) -> bool:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                found = conn.execute(
                    text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                    {"s": _schema(name)},
                ).first()
                return found is not None
        return (self._folder() / f"{name}.db").exists()

    def _open(self, name: str) -> sessionmaker[Session]:
        if self.engine.dialect.name == "postgresql":
            schema = _schema(name)
            with self.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            url = self.engine.url.render_as_string(hide_password=False)
            engine = make_engine(
                url, connect_args={"options": f'-csearch_path="{schema}"'}, pool_size=5
            )
        else:
            path = self._folder() / f"{name}.db"
            engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        self._engines.append(engine)
        return make_sessionmaker(engine)

    def _folder(self) -> Path:
        database = self.engine.url.database or ""
        base = Path(database).parent if database and database != ":memory:" else Path("var")
        return base / "tenants"


def _schema(name: str) -> str:
    return "tenant_" + name


__all__ = ["TENANT_HEADER", "NonexistentTenant", "Tenants", "check_tenant"]
