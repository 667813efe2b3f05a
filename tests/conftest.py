"""Shared fixtures: a fresh ledger per test on SQLite and on PostgreSQL.

PostgreSQL: a test that takes ``ledger`` gets its own database, a copy of a
ledger migrated once per test process (``CREATE DATABASE ... TEMPLATE``); one
that takes only ``db_url`` gets its own empty schema in the ``test`` database.
Both are dropped afterwards, so runs never see each other's data. Under
``CI=true`` a missing server fails the run; elsewhere those tests skip with the
reason printed.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("COMPENGINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_problem() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("select 1")
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} does not answer: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


_PG_PROBLEM: str | None | bool = False


def pg_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_problem()
    return _PG_PROBLEM  # type: ignore[return-value]


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ARG001
    """The tests marked ``slow`` run first (a stable sort: each keeps its place among its kind). Under
    pytest-xdist a long test handed out last keeps one worker busy while the other has nothing left to
    run; handed out first, the short tests fill in around it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_report_header(config):  # noqa: ANN001
    problem = pg_problem()
    if problem:
        return f"postgres: {problem} -> " + ("FAIL (CI=true)" if IN_CI else "PostgreSQL ledger tests skip")
    return f"postgres: {PG_URL} answers; ledger tests run on SQLite and PostgreSQL"


def require_pg() -> None:
    """Skip (or, under CI=true, fail) when PostgreSQL does not answer."""
    problem = pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: PostgreSQL tests must run)")
        print(f"\nSKIP reason: {problem}")
        pytest.skip(problem)


def _pg_admin(sql: str) -> None:
    """One statement on the test server's ``test`` database, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def new_pg_schema() -> str:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _pg_admin(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_pg_schema(schema: str) -> None:
    _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


def new_pg_database(template: str | None = None) -> str:
    """A new database on the test server (a copy of ``template`` when given: ``CREATE DATABASE ... TEMPLATE``
    copies a migrated ledger in about 30 ms, where migrating an empty one takes 0.3-0.4 s)."""
    name = f"compengine_t_{uuid.uuid4().hex[:16]}"
    _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_pg_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_database_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    # a test's commits need not wait for the disk (nothing here survives a crash of the server)
    return make_url(PG_URL).set(database=name).update_query_dict({"options": "-csynchronous_commit=off"}) \
        .render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_ledger_template(tmp_path_factory):  # noqa: ANN001
    """A migrated, empty SQLite ledger file, made once per test process, that each ``ledger`` test copies."""
    from compengine.ledger import open_ledger

    path = tmp_path_factory.mktemp("template") / "ledger.db"
    open_ledger(f"sqlite:///{path}").dispose()
    assert not path.with_name("ledger.db-wal").exists()  # the last connection's close folded the WAL in
    return path


@pytest.fixture(scope="session")
def pg_ledger_template():
    """A migrated, empty PostgreSQL ledger database, made once per test process (dropped at the end), that
    each ``ledger`` test copies: the migrations themselves are tested on empty ledgers (``db_url`` alone,
    test_migrations)."""
    from compengine.ledger import open_ledger

    require_pg()
    name = new_pg_database()
    try:
        open_ledger(pg_database_url(name)).dispose()  # no connection left open: a template must have none
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):  # noqa: ANN001
    """A URL of a ledger database, on each backend: an empty one, or, for a test that also takes ``ledger``,
    a copy of a migrated empty ledger (the one ``ledger`` opens)."""
    migrated = "ledger" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("sqlite_ledger_template"), path)
        yield f"sqlite:///{path}"
        return
    require_pg()
    if migrated:
        name = new_pg_database(request.getfixturevalue("pg_ledger_template"))
        try:
            yield pg_database_url(name)
        finally:
            drop_pg_database(name)
        return
    schema = new_pg_schema()
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        drop_pg_schema(schema)


@pytest.fixture
def ledger(db_url):  # noqa: ANN001
    """An opened (migrated) ledger engine on each backend, disposed afterwards (a copy of a ledger migrated
    once per test process, so open_ledger finds it at the head revision)."""
    from compengine.ledger import open_ledger

    engine = open_ledger(db_url)
    try:
        yield engine
    finally:
        engine.dispose()
