"""NGSI-LD tenants (the ``NGSILD-Tenant`` header, clause 4.14): one database each.

The default tenant is the hub's own database. Any other tenant gets a database of its
own, migrated by the same migrations: a PostgreSQL schema ``tenant_<name>`` on the hub's
server, or a SQLite file ``<data_dir>/tenants/<name>.db`` in the hub's data folder.
Nothing is shared, so no query, subscription or temporal request can reach across
tenants. A tenant comes into being with its first write (creating an entity or a
subscription, clause 4.14); reading one that does not exist is NonexistentTenant.

Decisions where the specification leaves room:

- Tenant names are 1 to 48 lowercase letters, digits, ``_`` and ``-``, used as they are in
  the schema or file name; anything else is BadRequestData rather than a silently mangled
  name (so ``Acme`` and ``acme`` can never be two names for one tenant, nor one name for
  two).
- A PostgreSQL tenant's connections have ``search_path`` set to its schema alone, so every
  unqualified name the hub uses (tables, ``to_regclass`` of an observation partition, the
  partitions it creates on demand) resolves inside the tenant. Creating and migrating a
  tenant holds a lock (a PostgreSQL advisory lock, or a POSIX file lock beside the SQLite
  file), so hub processes racing to create one do not collide.
- A tenant's engine is opened on first use in a process and migrated then (a no-op when
  it is current), so tenants follow the hub's schema upgrades; :meth:`Tenants.dispose`
  closes them all at shutdown.
"""

from __future__ import annotations

import fcntl
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
SCHEMA_PREFIX: Final = "tenant_"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")
_POOL_SIZE: Final = 5  # connections kept per PostgreSQL tenant


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


def schema_name(tenant: str) -> str:
    """Return the PostgreSQL schema of a tenant."""
    return SCHEMA_PREFIX + check_tenant(tenant)


class Tenants:
    """Session factories per tenant, created and migrated on first write."""

    def __init__(
        self, engine: Engine, sessions: sessionmaker[Session], folder: Path | None = None
    ) -> None:
        self.engine = engine
        self.default = sessions
        self.folder = folder if folder is not None else _default_folder(engine)
        self._factories: dict[str, sessionmaker[Session]] = {}
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @property
    def is_postgresql(self) -> bool:
        """Tell whether tenants are PostgreSQL schemas (else SQLite files)."""
        return self.engine.dialect.name == "postgresql"

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
                if not create and not self.exists(name):
                    raise NonexistentTenant(tenant)
                factory = make_sessionmaker(self._open(name))
                self._factories[name] = factory
            return factory

    def exists(self, tenant: str) -> bool:
        """Tell whether a tenant has been created (by this or another process)."""
        name = check_tenant(tenant)
        if not self.is_postgresql:
            return self.path(name).exists()
        with self.engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": schema_name(name)},
            ).first()
            return found is not None

    def known(self) -> list[str]:
        """Return the tenants that exist, besides the default one."""
        if self.is_postgresql:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT schema_name FROM information_schema.schemata "
                        "WHERE starts_with(schema_name, :p)"
                    ),
                    {"p": SCHEMA_PREFIX},
                )
                return sorted(r[0].removeprefix(SCHEMA_PREFIX) for r in rows)
        return sorted(p.stem for p in self.folder.glob("*.db")) if self.folder.exists() else []

    def path(self, tenant: str) -> Path:
        """Return a SQLite tenant's database file."""
        return self.folder / f"{check_tenant(tenant)}.db"

    def dispose(self) -> None:
        """Close every tenant's connections (at shutdown); later use opens them again."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
            self._factories.clear()

    def _open(self, name: str) -> Engine:
        """Open (creating and migrating it if needed) a tenant's database."""
        engine = self._pg_engine(name) if self.is_postgresql else self._sqlite_engine(name)
        try:
            if self.is_postgresql:
                self._create_schema(name, engine)
            else:
                self._create_file(name, engine)
        except BaseException:
            engine.dispose()
            raise
        self._engines[name] = engine
        return engine

    def _pg_engine(self, name: str) -> Engine:
        url = self.engine.url.render_as_string(hide_password=False)
        options = f'-csearch_path="{schema_name(name)}"'
        return make_engine(url, connect_args={"options": options}, pool_size=_POOL_SIZE)

    def _sqlite_engine(self, name: str) -> Engine:
        return make_engine(f"sqlite:///{self.path(name)}")

    def _create_schema(self, name: str, engine: Engine) -> None:
        """Create and migrate a tenant's schema under a lock other hub processes respect."""
        schema = schema_name(name)
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": "tenant:" + schema})
            try:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                conn.commit()
                upgrade(engine)
            finally:
                conn.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": "tenant:" + schema}
                )
                conn.commit()

    def _create_file(self, name: str, engine: Engine) -> None:
        """Create and migrate a tenant's SQLite file under a lock other processes respect."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f".{name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                upgrade(engine)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _default_folder(engine: Engine) -> Path:
    """Return ``tenants`` beside a SQLite database file (``var/tenants`` otherwise)."""
    database = engine.url.database or ""
    base = Path(database).parent if database and database != ":memory:" else Path("var")
    return base / "tenants"


__all__ = [
    "SCHEMA_PREFIX",
    "TENANT_HEADER",
    "NonexistentTenant",
    "Tenants",
    "check_tenant",
    "schema_name",
]
