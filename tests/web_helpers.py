"""A prepared ledger for the portal tests: the example company, months closed, users of every role.

The example company (examples/acme): M1 manages R1, R2 and A1; S1 (SE overlay) has no manager.
R2's name and one dispute reason carry ``<script>`` (they must show as text). Months up to
2026-09 are locked, 2026-10 is calculated; the open dispute is in the locked 2026-09.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
ACME = REPO / "examples" / "acme"
PLANS = REPO / "plans"
PASSWORD = "correct-horse-9"
XSS_NAME = '<script>alert("name")</script> Jo Kim'
XSS_REASON = '<script>alert("reason")</script> my split is wrong'
# user -> (role, rep)
USERS = {
    "ravi": ("rep", "R1"),
    "jo": ("rep", "R2"),
    "sam": ("rep", "S1"),
    "maria": ("manager", "M1"),
    "olga": ("ops", None),
    "oscar": ("ops", None),
    "fin": ("finance", None),
    "adm": ("admin", None),
}


def build_ledger(folder: Path) -> Path:
    """Write the prepared SQLite ledger into ``folder``; returns the database file."""
    from compengine.core.periods import Period
    from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
    from compengine.ledger.disputes import open_dispute
    from compengine.ledger.models import PeriodRow
    from compengine.ledger.users import add_user

    data = folder / "acme"
    shutil.copytree(ACME, data)
    path = data / "reps.csv"
    rows = list(csv.DictReader(path.open()))
    for r in rows:
        if r["rep_id"] == "R2":
            r["name"] = XSS_NAME
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    db = folder / "ledger.db"
    engine = open_ledger(f"sqlite:///{db}")
    with transaction(engine) as s:
        # the plans through a path relative to the working directory: the lines' rule sources (on the statement
        # pages and the README's screenshot) read "plans/ae.yaml:11,17 @..." from the repository
        import_folder(s, data, Path(os.path.relpath(PLANS)), "setup")
        first = s.scalar(select(func.min(PeriodRow.period)))
    for p in Period.parse(first).months_through(Period.parse("2026-10")):
        with transaction(engine) as s:
            run_close(s, p, "setup")
            if str(p) < "2026-10":
                lock_period(s, p, "setup", accept_exceptions="test data")
    with transaction(engine) as s:
        for name, (role, rep) in USERS.items():
            add_user(s, name, role, PASSWORD, "setup", rep_id=rep)
        open_dispute(s, "R2", Period.parse("2026-09"), XSS_REASON, "jo")
    engine.dispose()
    return db


def copy_ledger(db: Path, folder: Path) -> str:
    out = folder / "ledger.db"
    shutil.copy(db, out)
    return f"sqlite:///{out}"


def login(client, name: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    r = client.post("/login", data={"username": name, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return client


def csrf_of(client) -> str:  # noqa: ANN001
    from compengine.web.auth import COOKIE

    portal = client.app.state.portal
    return portal.sessions.read(client.cookies.get(COOKIE)).csrf


# --------------------------------------------------------------------------- a ledger of a plan with components

COMPONENTS = REPO / "tests" / "fixtures" / "components"  # C1 on ae-v2-2027 (components), V1 on ae-v1
COMPONENT_USERS = {"cora": ("rep", "C1"), "vic": ("rep", "V1"), "olga": ("ops", None)}


def build_components_ledger(folder: Path, through: str = "2026-11") -> Path:
    """The components fixture imported into a SQLite ledger in ``folder``, every month closed through
    ``through`` (the ones before it locked), with users. Imported through a path relative to the working
    directory, so the lines' sources read ``tests/fixtures/components/deals.csv:4`` from the repository."""
    from compengine.core.periods import Period
    from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
    from compengine.ledger.models import PeriodRow
    from compengine.ledger.users import add_user

    data = Path(os.path.relpath(COMPONENTS))
    db = folder / "components.db"
    engine = open_ledger(f"sqlite:///{db}")
    try:
        with transaction(engine) as s:
            import_folder(s, data, data / "plans", "setup")
            first = s.scalar(select(func.min(PeriodRow.period)))
        for p in Period.parse(first).months_through(Period.parse(through)):
            with transaction(engine) as s:
                run_close(s, p, "setup")
                if str(p) < through:
                    lock_period(s, p, "setup", accept_exceptions="test data")
        with transaction(engine) as s:
            for name, (role, rep) in COMPONENT_USERS.items():
                add_user(s, name, role, PASSWORD, "setup", rep_id=rep)
    finally:
        engine.dispose()
    return db
