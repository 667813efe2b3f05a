"""Ledger-wide settings (table ``settings``): read, set and remove them, each change in the audit log.

Inputs: a session owned by the caller, a key, a value, the actor. Outputs: the
stored value (or ``None``). Keys a user sets with ``compengine config set`` are
listed in :data:`SETTABLE`; other keys (``first_period``) belong to the commands
that write them and are only shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.ledger.models import Setting
from compengine.ledger.store import audit, utcnow

COMPANY = "company"
SETTABLE = {
    COMPANY: "company name printed on every statement page",
    "adjustment_approval_threshold": "manual adjustments above this amount (either way) wait for a second ops or "
                                     "finance user's approval once the ledger has users [default 1000.00]",
}
MAX_LENGTH = 200


@dataclass(frozen=True)
class SettingValue:
    key: str
    value: str
    updated_at: datetime
    updated_by: str
    description: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "updated_at": self.updated_at.isoformat(sep=" "),
                "updated_by": self.updated_by, "description": self.description}


def _settable(key: str) -> str:
    if key not in SETTABLE:
        known = ", ".join(sorted(SETTABLE))
        raise CompErrors(f"unknown setting {key!r}: the settings you can set are {known}")
    return key


def _clean(key: str, value: str) -> str:
    text = " ".join(value.split())  # no newlines or runs of blanks in a header line
    if not text:
        raise CompErrors(f"{key}: a value is required (`compengine config unset {key}` removes it)")
    if len(text) > MAX_LENGTH:
        raise CompErrors(f"{key}: at most {MAX_LENGTH} characters, got {len(text)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise CompErrors(f"{key}: control characters are not allowed")
    if key == "adjustment_approval_threshold":
        from decimal import Decimal, InvalidOperation

        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise CompErrors(f"{key}: an amount such as 1000.00, not {text!r}") from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            raise CompErrors(f"{key}: a positive amount in cents such as 1000.00, not {text!r}")
        text = f"{amount:.2f}"
    return text


def get_setting(session: Session, key: str) -> str | None:
    """The stored value of ``key``, or ``None`` when it is not set."""
    row = session.get(Setting, key)
    return row.value if row is not None else None


def company_name(session: Session) -> str:
    """The company name for statements: the ``company`` setting, or ``""`` when none is set."""
    return get_setting(session, COMPANY) or ""


def set_setting(session: Session, key: str, value: str, actor: str, *, now: datetime | None = None) -> SettingValue:
    """Set ``key`` (one of :data:`SETTABLE`) to ``value`` (blanks collapsed), with an audit entry naming the change."""
    key = _settable(key)
    value = _clean(key, value)
    now = now or utcnow()
    row = session.get(Setting, key)
    before = row.value if row is not None else None
    if row is None:
        row = Setting(key=key, value=value, updated_at=now, updated_by=actor)
        session.add(row)
    elif row.value != value:
        row.value, row.updated_at, row.updated_by = value, now, actor
    if before != value:
        audit(session, actor, "config set", f"{key} = {value!r}" + (f" (was {before!r})" if before is not None else ""),
              entity="setting", entity_id=key, before=None if before is None else {key: before}, after={key: value},
              at=now)
    session.flush()
    return SettingValue(key, row.value, row.updated_at, row.updated_by, SETTABLE[key])


def unset_setting(session: Session, key: str, actor: str, *, now: datetime | None = None) -> str | None:
    """Remove ``key``; returns the value it had (``None``: it was not set, nothing changed)."""
    key = _settable(key)
    row = session.get(Setting, key)
    if row is None:
        return None
    before = row.value
    session.delete(row)
    audit(session, actor, "config unset", f"{key} removed (was {before!r})", entity="setting", entity_id=key,
          before={key: before}, after=None, at=now or utcnow())
    session.flush()
    return before


def list_settings(session: Session) -> list[SettingValue]:
    """Every stored setting, by key."""
    return [SettingValue(r.key, r.value, r.updated_at, r.updated_by, SETTABLE.get(r.key, ""))
            for r in session.scalars(select(Setting).order_by(Setting.key))]


__all__ = ["COMPANY", "SETTABLE", "SettingValue", "company_name", "get_setting", "list_settings", "set_setting",
           "unset_setting"]
