"""Connecting to the ledger: engines, sessions, schema upgrades.

The caller owns the session and the transaction. ``open_ledger(url)`` returns an
engine whose schema is current (an empty database is created through the
Alembic migrations first). SQLite gets WAL, foreign keys, a busy timeout and
``BEGIN IMMEDIATE`` transactions so two writers queue instead of failing;
PostgreSQL serialises closes with row locks (see ``close``).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from compengine.core.errors import CompErrors

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _rec) -> None:  # noqa: ANN001
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA cache_size=-262144")  # 256 MB of page cache: big closes insert into indexes
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the database to the current schema. Returns (before, after) revisions."""
    before = current_revision(engine)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, current_revision(engine)


def open_ledger(url: str, *, migrate: bool = True) -> Engine:
    engine = make_engine(url)
    if migrate and current_revision(engine) != head_revision():
        upgrade(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error.

    A refusal by the ledger's triggers (a locked month's lines, the audit log, a seal)
    becomes a one-line :class:`CompErrors`."""
    with session_factory(engine)() as session:
        try:
            with session.begin():
                yield session
        except DBAPIError as exc:
            refusal = trigger_refusal(exc)
            if refusal is None:
                raise
            raise CompErrors(refusal) from None


def trigger_refusal(exc: BaseException) -> str | None:
    """The one-line message of a refusal by the ledger's triggers (migration 0004), or None."""
    text = str(getattr(exc, "orig", None) or exc)
    at = text.find("compengine: ")
    if at < 0:
        return None
    line = text[at + len("compengine: "):].splitlines()[0].strip()
    return f"refused by the database: {line}"
