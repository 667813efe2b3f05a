"""Canonical JSON and SHA-256 for the ledger's tamper evidence (month seals, the audit chain).

Kept apart from ``seals`` so that ``store.audit`` (which every writer uses, ``seals`` too)
can chain audit entries without importing ``seals``. See ``seals`` for the formats.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

AUDIT_FORMAT = "compengine-audit/1"

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
encode = _encoder.encode  # JSON with no spaces, non-ASCII as is: escaping fixed by the JSON grammar


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def ts(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ", timespec="microseconds")


def audit_hash(at: datetime, actor: str, action: str, period: str | None, rep_id: str | None, entity: str,
               entity_id: str, summary: str, before: str | None, after: str | None, prev_hash: str | None) -> str:
    """SHA-256 of an audit entry's canonical content and the hash of the entry before it (not its id)."""
    return sha(encode([AUDIT_FORMAT, ts(at), actor, action, period, rep_id, entity, entity_id, summary, before, after,
                       prev_hash]))
