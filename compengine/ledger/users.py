"""Users, roles and API tokens; adjustments that wait for a second user's approval.

Inputs: a session owned by the caller, names, roles, passwords, the actor.
Outputs: ``users`` and ``api_tokens`` rows (migration 0005), audit entries.

* Passwords are hashed with argon2id (argon2-cffi's ``PasswordHasher``: a memory-hard
  hash with its own salt and parameters in the stored string; nothing to invent here).
* An API token is 32 random bytes (``secrets``) shown once; only its SHA-256 is stored
  (a token has full entropy, so a fast hash is enough to make the stored value useless).
* **Identities are enforced once a user exists**: a ledger without users behaves as
  before (the CLI's ``--as`` is free text). With users, the CLI's actor must be an
  enabled user and state-changing commands check the role (:func:`require_actor`);
  adjustments above ``adjustment_approval_threshold`` (default 1,000.00, either way)
  are stored ``pending`` until an ops or finance user other than the one who entered
  them approves (:func:`approve_adjustment`); the close reads approved ones only.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import shown
from compengine.core.periods import Period
from compengine.ledger.models import AdjustmentRow, ApiTokenRow, RepRow, UserRow
from compengine.ledger.store import audit, first_open_period, invalidate_from, lock_period_row, utcnow
from compengine.ledger.settings import get_setting

ROLES = ("rep", "manager", "ops", "finance", "admin")
THRESHOLD_KEY = "adjustment_approval_threshold"
DEFAULT_THRESHOLD = Decimal("1000.00")
APPROVERS = ("ops", "finance")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    """A user as the portal and the permission checks see it (never the password hash)."""

    name: str
    role: str
    rep_id: str | None
    disabled: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "rep_id": self.rep_id, "disabled": self.disabled}


def _user(row: UserRow) -> User:
    return User(row.name, row.role, row.rep_id, bool(row.disabled))


def _hasher():  # noqa: ANN202
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# A hash to verify against when the user does not exist, so both cases take the same time.
_DUMMY: list[str] = []


def has_users(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(UserRow.name.is_not(None)))))


def get_user(session: Session, name: str) -> User | None:
    row = session.get(UserRow, name)
    return _user(row) if row is not None else None


def list_users(session: Session) -> list[User]:
    return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.name))]


def add_user(session: Session, name: str, role: str, password: str | None, actor: str, *, rep_id: str | None = None,
             now: datetime | None = None) -> User:
    """Add a user. Reps and managers name their ``reps`` row; the others may not."""
    now = now or utcnow()
    name = name.strip()
    errors = []
    if not name or len(name) > 100 or any(not (c.isalnum() or c in "._@-") for c in name):
        errors.append(f"user name {name!r}: 1 to 100 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        errors.append(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    if role in ("rep", "manager"):
        if not rep_id:
            errors.append(f"a {role} needs --rep REP_ID (their row in reps)")
        elif session.get(RepRow, rep_id) is None:
            errors.append(f"unknown rep {rep_id!r}: import the reps first")
    elif rep_id:
        errors.append(f"a {role} user is not a rep: leave out --rep")
    if password is not None and len(password) < MIN_PASSWORD:
        errors.append(f"a password needs at least {MIN_PASSWORD} characters")
    if session.get(UserRow, name) is not None:
        errors.append(f"user {name!r} exists already")
    if errors:
        raise CompErrors(errors)
    row = UserRow(name=name, role=role, rep_id=rep_id, password_hash=hash_password(password) if password else None,
                  disabled=False, created_at=now, created_by=actor)
    session.add(row)
    session.flush()
    audit(session, actor, "user.add", f"user {name} added as {role}" + (f" for rep {rep_id}" if rep_id else ""),
          rep_id=rep_id, entity="user", entity_id=name, after={"role": role, "rep_id": rep_id}, at=now)
    return _user(row)


def disable_user(session: Session, name: str, actor: str, *, now: datetime | None = None) -> User:
    """Disable a user: no login, no token, no CLI; their tokens are removed."""
    row = session.get(UserRow, name)
    if row is None:
        raise CompErrors(f"no user {name!r}")
    if not row.disabled:
        row.disabled = True
        for t in session.scalars(select(ApiTokenRow).where(ApiTokenRow.user_name == name)):
            session.delete(t)
        audit(session, actor, "user.disable", f"user {name} disabled", entity="user", entity_id=name,
              before={"disabled": False}, after={"disabled": True}, at=now or utcnow())
    session.flush()
    return _user(row)


def new_token(session: Session, name: str, actor: str, *, now: datetime | None = None) -> str:
    """A new API token for ``name`` (returned once; only its SHA-256 is stored)."""
    row = session.get(UserRow, name)
    if row is None:
        raise CompErrors(f"no user {name!r}")
    if row.disabled:
        raise CompErrors(f"user {name!r} is disabled")
    token = "ce_" + secrets.token_urlsafe(32)
    session.add(ApiTokenRow(user_name=name, token_hash=token_hash(token), created_at=now or utcnow()))
    session.flush()
    audit(session, actor, "user.token", f"API token issued for {name}", entity="user", entity_id=name, at=now or utcnow())
    return token


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The enabled user whose password this is, else None (same work either way)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    row = session.get(UserRow, name) if name else None
    stored = row.password_hash if row is not None and not row.disabled else None
    if stored is None:
        if not _DUMMY:
            _DUMMY.append(hash_password("not a password of anyone"))
        stored, row = _DUMMY[0], None
    try:
        ok = _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    return _user(row) if ok and row is not None else None


def user_for_token(session: Session, token: str) -> User | None:
    if not token:
        return None
    row = session.execute(select(UserRow).join(ApiTokenRow, ApiTokenRow.user_name == UserRow.name)
                          .where(ApiTokenRow.token_hash == token_hash(token))).scalar_one_or_none()
    return _user(row) if row is not None and not row.disabled else None


# ------------------------------------------------------------------ the CLI's identities


def require_actor(session: Session, actor: str, roles: tuple[str, ...] = ()) -> User | None:
    """Once the ledger has users: ``actor`` must be an enabled user, of one of ``roles`` if given.

    Returns the user (None on a ledger without users, where nothing is enforced)."""
    if not has_users(session):
        return None
    user = get_user(session, actor)
    if user is None:
        raise CompErrors(f"{actor!r} is not a user of this ledger: pass --as NAME of a user "
                         "(`compengine users list`), or add one with `compengine users add`")
    if user.disabled:
        raise CompErrors(f"user {actor!r} is disabled")
    if roles and user.role not in roles:
        raise CompErrors(f"user {actor!r} is {user.role}; this needs the role {' or '.join(roles)}")
    return user


# ------------------------------------------------------------------ adjustments awaiting approval


def approval_threshold(session: Session) -> Decimal:

    raw = get_setting(session, THRESHOLD_KEY)
    if raw is None:
        return DEFAULT_THRESHOLD
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise CompErrors(f"setting {THRESHOLD_KEY} is not an amount: {raw!r}") from None


def needs_approval(session: Session, amount: Decimal, kind: str) -> bool:
    """A manual adjustment above the threshold (either way), on a ledger with users."""
    return kind == "manual" and abs(amount) > approval_threshold(session) and has_users(session)


def pending_adjustments(session: Session) -> list[AdjustmentRow]:
    return list(session.scalars(select(AdjustmentRow).where(AdjustmentRow.status == "pending").order_by(AdjustmentRow.id)))


def approve_adjustment(session: Session, adjustment_id: int, actor: str, *, now: datetime | None = None) -> AdjustmentRow:
    """Approve a pending adjustment: an ops or finance user who did not enter it."""
    now = now or utcnow()
    row = session.get(AdjustmentRow, adjustment_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise CompErrors(f"no adjustment {adjustment_id}")
    if row.status != "pending":
        raise CompErrors(f"adjustment {row.id} is {row.status}, not pending")
    user = require_actor(session, actor, APPROVERS)
    if user is None:
        raise CompErrors("approvals need users: add them with `compengine users add`")
    if row.created_by == actor:
        raise CompErrors(f"adjustment {row.id} was entered by {actor}: another ops or finance user must approve it")
    period = Period.parse(row.period)
    entered_for = row.period
    if lock_period_row(session, period).status == "locked":  # locked while it waited: paid in the first open month
        period = first_open_period(session, period)
        lock_period_row(session, period)
        row.period = str(period)
    row.status, row.approved_by, row.approved_at = "approved", actor, now
    moved = f", moved from locked {entered_for} to {row.period}" if row.period != entered_for else ""
    audit(session, actor, "adjust.approve",
          f"adjustment {row.id} ({shown(row.amount)} for {row.rep_id} in {row.period}) approved{moved}",
          period=row.period, rep_id=row.rep_id, entity="adjustment", entity_id=str(row.id),
          before={"status": "pending", "period": entered_for}, after={"status": "approved", "period": row.period}, at=now)
    invalidate_from(session, period, actor, f"adjustment {row.id} approved")
    return row


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(UserRow)) or 0)
