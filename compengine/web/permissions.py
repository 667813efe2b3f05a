"""Who may see or do what: the one module every page and JSON endpoint asks (datasette's model).

Inputs: the signed-in :class:`~compengine.ledger.users.User`, an action name, and
for rep data the rep it belongs to. Output: allowed or not. Views ask *before*
loading anything, and answer 403 (never the data) when not allowed.

* ``rep``: their own statements, lines, disputes, history and what-if.
* ``manager``: the same for themselves and their reports (direct and below, through
  ``reps.manager_id``), and the team attainment table.
* ``ops``: the close (months board, run, lock), the disputes queue and resolving
  disputes, adjustments (enter and approve), and every statement (to resolve disputes).
* ``finance``: reconcile, the payout file, verify, resolving disputes, approving
  adjustments, and every statement.
* ``admin``: users. Admin is not a superuser: an admin sees no pay data.

Separation of duties (who *entered* something may not approve it) is checked by the
ledger functions themselves (``disputes.resolve``, ``users.approve_adjustment``), so
the CLI and the portal enforce the same rule.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from compengine.ledger.models import RepRow
from compengine.ledger.users import User

# action -> roles allowed. Rep-scoped actions (REP_SCOPED) further need the rep to be in scope.
RULES: dict[str, frozenset[str]] = {
    "home": frozenset({"rep", "manager", "ops", "finance", "admin"}),
    "rep.view": frozenset({"rep", "manager", "ops", "finance"}),  # months, chart, statement, PDF, JSON
    "dispute.open": frozenset({"rep", "manager"}),  # for oneself (a manager: also for a report)
    "whatif": frozenset({"rep", "manager"}),
    "disputes.list": frozenset({"rep", "manager", "ops", "finance"}),  # filtered to what the user may see
    "dispute.resolve": frozenset({"ops", "finance"}),
    "team.view": frozenset({"manager"}),
    "board.view": frozenset({"ops", "finance"}),
    "close.run": frozenset({"ops"}),
    "close.lock": frozenset({"ops"}),
    "adjust.view": frozenset({"ops", "finance"}),
    "adjust.create": frozenset({"ops", "finance"}),
    "adjust.approve": frozenset({"ops", "finance"}),
    "reconcile": frozenset({"finance"}),
    "payouts.export": frozenset({"finance"}),
    "verify": frozenset({"finance"}),
    "users.view": frozenset({"admin"}),
}
REP_SCOPED = frozenset({"rep.view", "dispute.open", "whatif"})
ALL_REPS_ROLES = frozenset({"ops", "finance"})


class Forbidden(Exception):
    """Not allowed: the view answers 403 and shows nothing of the data."""


def reports_of(session: Session, rep_id: str) -> set[str]:
    """Every rep under ``rep_id`` (direct and below), through ``reps.manager_id``."""
    children: dict[str, list[str]] = defaultdict(list)
    for rid, mid in session.execute(select(RepRow.rep_id, RepRow.manager_id).where(RepRow.manager_id.is_not(None))):
        children[mid].append(rid)
    out: set[str] = set()
    todo = list(children.get(rep_id, ()))
    while todo:
        r = todo.pop()
        if r in out or r == rep_id:
            continue
        out.add(r)
        todo.extend(children.get(r, ()))
    return out


def rep_scope(session: Session, user: User) -> set[str] | None:
    """The reps whose data ``user`` may see: None means every rep; an empty set none."""
    if user.role in ALL_REPS_ROLES:
        return None
    if user.role == "rep":
        return {user.rep_id} if user.rep_id else set()
    if user.role == "manager":
        return ({user.rep_id} | reports_of(session, user.rep_id)) if user.rep_id else set()
    return set()


def allowed(session: Session, user: User | None, action: str, rep_id: str | None = None) -> bool:
    if user is None or user.disabled:
        return False
    roles = RULES.get(action)
    if roles is None:
        raise KeyError(f"unknown action {action!r}")  # a bug: every action is listed in RULES
    if user.role not in roles:
        return False
    if action in REP_SCOPED:
        if rep_id is None:
            return False
        scope = rep_scope(session, user)
        return scope is None or rep_id in scope
    return True


def check(session: Session, user: User | None, action: str, rep_id: str | None = None) -> None:
    """Raise :class:`Forbidden` unless ``user`` may do ``action`` (on ``rep_id``'s data)."""
    if not allowed(session, user, action, rep_id):
        raise Forbidden(action)
