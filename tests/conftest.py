"""Shared fixtures: a fresh ledger per test on SQLite and on PostgreSQL.

PostgreSQL: each test gets its own schema in the ``test`` database (dropped
afterwards), so runs never see each other's data. Under ``CI=true`` a missing
server fails the run; elsewhere those tests skip with the reason printed.
"""

from __future__ import annotations

import os
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


def new_pg_schema() -> str:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):  # noqa: ANN001
    """A URL of an empty ledger database, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    require_pg()
    schema = new_pg_schema()
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        drop_pg_schema(schema)


@pytest.fixture
def ledger(db_url):  # noqa: ANN001
    """An opened (migrated) ledger engine on each backend, disposed afterwards."""
    from compengine.ledger import open_ledger

    engine = open_ledger(db_url)
    try:
        yield engine
    finally:
        engine.dispose()
