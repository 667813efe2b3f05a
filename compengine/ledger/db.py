"""Connecting to the ledger: engines, sessions, schema upgrades, and how writers take turns.

The caller owns the session and the transaction. ``open_ledger(url)`` returns an
engine whose schema is current (an empty database is created through the
Alembic migrations first).

**One writer at a time, readers never wait.** Every command that changes the
ledger (import, close run, lock, reopen, adjust, disputes, settings) runs in
``transaction(engine, what="...")``: a write transaction that first takes the
ledger's writer lock, then reads and writes. On SQLite that lock is
``BEGIN IMMEDIATE`` (WAL, one writer); on PostgreSQL it is a transaction-scoped
advisory lock (:data:`WRITER_LOCK`), taken before the first read, so whatever a
writer reads cannot change until it commits: no lost update, no deadlock, no
duplicate key between two imports. A writer waits for the one before it at most
:func:`lock_wait` seconds (``COMPENGINE_LOCK_WAIT``, default 60) and then fails
with one line naming what holds the ledger (on PostgreSQL, from the holder's
``application_name``). Readers (status, statements, reconcile, audit, verify,
close show) run in ``transaction(engine, write=False)``: a deferred transaction
on SQLite (a WAL snapshot), ``REPEATABLE READ, READ ONLY`` on PostgreSQL (one
snapshot for the whole report); they never wait for a writer.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from compengine.core.errors import CompErrors

MIGRATIONS = Path(__file__).with_name("migrations")


# SQLite's page cache per connection, in KiB (negative: a size, not a page count). A writer's is big: a
# big close inserts into the lines' indexes, and a cache that holds them is what makes it fast. A
# reader's (reports, the model, the portal's pages) reads what it reads about once: a big cache there
# only grows the process (the model of a 2,000-rep year peaked at 365 MB with 256 MB, 205 MB with 2 MB),
# and the portal holds one per pooled connection. An engine's ``compengine_cache`` execution option
# overrides both (a close's workers read the month's deals again for each partition: the writer's).
WRITER_CACHE = -262144  # 256 MB
READER_CACHE = -32768  # 32 MB


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
            cur.execute(f"PRAGMA busy_timeout={int(lock_wait() * 1000)}")
            cur.execute(f"PRAGMA cache_size={WRITER_CACHE}")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # noqa: ANN001
            options = conn.get_execution_options()
            read = bool(options.get("compengine_read"))
            cache = options.get("compengine_cache") or (READER_CACHE if read else WRITER_CACHE)
            if conn.info.get("compengine_cache", WRITER_CACHE) != cache:  # the pooled connection's own setting
                conn.exec_driver_sql(f"PRAGMA cache_size={cache}")
                conn.info["compengine_cache"] = cache
            # readers take a WAL snapshot (BEGIN DEFERRED) and never wait; writers queue
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

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


# The PostgreSQL advisory lock every ledger writer holds: (WRITER_LOCK, the oid of this ledger's
# ``periods`` table), one lock per ledger schema (advisory locks are database-wide).
WRITER_LOCK = 0x636F6D77  # "comw"
_LEDGER_KEY = "CAST(CAST(CAST(CAST('periods' AS regclass) AS oid) AS bigint) %% 2147483647 AS integer)"


def lock_wait() -> float:
    """Seconds a writer waits for the one before it: ``COMPENGINE_LOCK_WAIT``, default 60."""
    raw = os.environ.get("COMPENGINE_LOCK_WAIT", "").strip()
    try:
        value = float(raw) if raw else 60.0
    except ValueError:
        raise CompErrors(f"COMPENGINE_LOCK_WAIT must be a number of seconds, not {raw!r}") from None
    return max(0.0, value)


def _holder(engine: Engine) -> str:
    """What holds the PostgreSQL writer lock, from the holder's application_name."""
    try:
        with engine.connect() as conn:
            name = conn.exec_driver_sql(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                f"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %(k)s AND l.objsubid = 2 "
                f"AND CAST(l.objid AS bigint) = {_LEDGER_KEY} LIMIT 1",
                {"k": WRITER_LOCK}).scalar()
    except Exception:  # noqa: BLE001 - only for the message
        name = None
    name = (name or "").removeprefix("compengine: ")
    return f"another command is writing to the ledger ({name})" if name else "another command is writing to the ledger"


def _take_writer_lock(session: Session, what: str) -> None:
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE (see make_engine) already made this the only writer
    wait_ms = int(lock_wait() * 1000)
    conn.exec_driver_sql("SELECT set_config('application_name', %(n)s, true), set_config('lock_timeout', %(t)s, true)",
                         {"n": f"compengine: {what}"[:63], "t": f"{wait_ms}ms" if wait_ms else "1ms"})
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock(%(k)s, {_LEDGER_KEY})", {"k": WRITER_LOCK})
    conn.exec_driver_sql("SELECT set_config('lock_timeout', '0', true)")


def _busy(exc: OperationalError) -> bool:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return "database is locked" in text or "lock timeout" in text or "deadlock detected" in text


@contextmanager
def transaction(engine: Engine, *, write: bool = True, what: str = "a change") -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error.

    ``write=True`` (the default) takes the ledger's writer lock before anything is
    read (see the module docstring); ``what`` says what this writer does ("close run
    2026-10 by ana"), shown to a writer that waits for it too long. ``write=False``
    is a read-only snapshot that never waits for writers.
    """
    bind = engine.execution_options(compengine_read=True) if not write else engine
    try:
        with sessionmaker(bind, expire_on_commit=False)() as session:
            with session.begin():
                if write:
                    _take_writer_lock(session, what)
                else:
                    conn = session.connection()
                    if conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield session
    except DBAPIError as exc:
        refusal = trigger_refusal(exc)
        if refusal is not None:
            raise CompErrors(refusal) from None
        if not (isinstance(exc, OperationalError) and _busy(exc)):
            raise
        who = _holder(engine) if engine.dialect.name == "postgresql" else "another command is writing to the ledger"
        raise CompErrors(f"{who} and did not finish within {lock_wait():g} s (COMPENGINE_LOCK_WAIT): "
                         f"{what} was not done, try again") from None


def trigger_refusal(exc: BaseException) -> str | None:
    """The one-line message of a refusal by the ledger's triggers (migration 0004), or None."""
    text = str(getattr(exc, "orig", None) or exc)
    at = text.find("compengine: ")
    if at < 0:
        return None
    line = text[at + len("compengine: "):].splitlines()[0].strip()
    return f"refused by the database: {line}"
