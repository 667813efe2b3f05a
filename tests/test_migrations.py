"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from compengine.ledger.db import current_revision, head_revision, upgrade
from compengine.ledger.models import Base


def test_migrations_match_the_models(ledger):
    assert current_revision(ledger) == head_revision()
    with ledger.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(ledger):
    before, after = upgrade(ledger)
    assert before == after == head_revision()
