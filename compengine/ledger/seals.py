"""Seals and tamper evidence: a SHA-256 seal per locked month, a hash-chained audit log, ``verify``.

Inputs: a session (the caller owns the transaction). Outputs: :class:`PeriodSeal` rows
(:func:`seal_period`, written by ``close.lock_period``; :func:`mark_reopened` for a reopen),
the problems of one locked month (:func:`check_month`, used by reconcile) and a
:class:`VerifyReport` over the whole ledger (:func:`verify`, the ``compengine verify`` command).

**A month's seal.** ``lines_digest`` is a SHA-256 over the month's payout lines and rep
totals, in a canonical form that does not depend on the database, its collation or the
order rows were stored in:

* every payout line is the JSON array of the columns of the seal's format (:data:`SEAL_FORMATS`;
  formats 2 and 3 hash every stored column but the autoincrement id, :data:`LINE_COLUMNS`, in that
  order; format 1 the columns before migration 0007): money as integer thousandths of a unit in
  format 3 (as the ledger stores it since migration 0008), integer cents in formats 1 and 2 (the
  stored thousandths divided by ten: what those months stored when they were sealed), exact decimals as the
  canonical text the ledger stores, SQL NULL as ``null`` (distinct from ``""``); JSON is
  written with ``ensure_ascii=False`` and no spaces, so a string's escaping is fixed by the
  JSON grammar, not by the Python version;
* a rep's lines, in ``seq`` order, make the JSON array whose SHA-256 is the rep's lines hash;
* the month is the text ``FORMAT PERIOD`` (e.g. ``compengine-seal/2 2026-09``) and then, one per
  rep in code-point order of ``rep_id`` (every rep with lines or a ``rep_periods`` row), the JSON
  array ``[rep_id, line count, amount (thousandths; cents in formats 1 and 2), lines hash, rep_periods row or null]``, each
  followed by a newline; ``rep_periods`` rows are the format's columns of the table
  (format 2: :data:`REP_PERIOD_COLUMNS`).

The seal itself is the SHA-256 of ``[FORMAT, period, lines_digest, line_count,
total_payout (thousandths; cents in formats 1 and 2), prev_seal, sealed_at, sealed_by]`` (JSON as above), where
``prev_seal`` is the current seal of the previous locked month at the time: the seals form a
chain, so replacing one seal breaks the next. Every seal is also recorded in the audit log
(action ``period.seal``), which ties the two chains together.

**Formats.** A seal records its format (``period_seals.format``) and is always checked under
it: a month sealed as ``compengine-seal/1`` (before migration 0007 added columns) keeps
verifying over the columns it covered, and months locked since are sealed as
:data:`SEAL_FORMAT`. A format's column lists never change; a new column means a new format.

Lines are streamed from a server-side cursor (PostgreSQL) or a plain cursor (SQLite) in
batches and hashed as they come, so a month of millions of lines needs little memory.

**The audit log** is a hash chain: ``store.audit`` writes each entry with ``prev_hash`` (the
hash of the entry before it, by id) and ``hash`` = SHA-256 of :func:`audit_hash`'s canonical
content. Entries written before the chain existed (NULL ``hash``, before the first hashed
entry) are *unchained legacy entries*: ``verify`` counts and reports them but cannot vouch
for them, and they are not a failure. After the first hashed entry, every entry must be
hashed and linked.

**What the hashes cannot do alone**: whoever can rewrite the database and every hash after
a change can forge a consistent chain. Database triggers (migration 0004) refuse UPDATE and
DELETE of audit entries, seals and a locked month's lines and rep totals, and the README's
PostgreSQL section sets up roles in which the application cannot drop them; ``verify``
reports the head of the audit chain so it can be recorded somewhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import from_cents, from_thousandths, shown, to_cents, to_thousandths
from compengine.core.periods import Period
from compengine.ledger.codec import LINE_COLUMNS, LINE_KINDS, REP_PERIOD_COLUMNS, REP_PERIOD_KINDS
from compengine.ledger.hashes import AUDIT_FORMAT, audit_hash, encode, sha, ts  # noqa: F401 - AUDIT_FORMAT: read from here too
from compengine.ledger.models import AuditRow, PeriodRow, PeriodSeal
from compengine.ledger.store import audit

SEAL_ACTION = "period.seal"

# The columns a seal covers, in the order they are hashed, per format. Fixed for each format: the
# golden digests of tests/test_seals.py change with a new column, so a new column means a new format
# on purpose. Format 1: the columns of payout_lines and rep_periods before migration 0007, frozen here.
SEAL_FORMAT_1 = "compengine-seal/1"
LINE_COLUMNS_1: tuple[str, ...] = (
    "period", "rep_id", "seq", "kind", "amount", "deal_id", "credit", "rate", "multiplier", "tier", "rule", "explain",
    "ref_period", "ref", "role", "split_pct")
REP_PERIOD_COLUMNS_1: tuple[str, ...] = (
    "period", "rep_id", "plan_id", "currency", "measure", "quota", "credited", "attainment", "ytd_quota", "ytd_credited",
    "tenure_month", "payout", "draw_balance", "carry_balance", "ytd_paid", "ytd_year", "ytd_plan", "notes")
# Format 2 (migration 0007): every stored column but the id, in table order (``codec``, from the models):
# format 1's and then payout_lines.component, base, deal_source, rule_source; rep_periods.parts, component_paid.
SEAL_FORMAT_2 = "compengine-seal/2"
# Format 3 (migration 0008, issue 15): format 2's columns with money as the thousandths the ledger stores
# (a KWD amount's third decimal is sealed too); formats 1 and 2 hash money as cents.
SEAL_FORMAT_3 = "compengine-seal/3"
SEAL_FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    SEAL_FORMAT_1: (LINE_COLUMNS_1, REP_PERIOD_COLUMNS_1),
    SEAL_FORMAT_2: (LINE_COLUMNS, REP_PERIOD_COLUMNS),
    SEAL_FORMAT_3: (LINE_COLUMNS, REP_PERIOD_COLUMNS),
}
SEAL_FORMAT = SEAL_FORMAT_3  # what new seals are written in
CENT_FORMATS = (SEAL_FORMAT_1, SEAL_FORMAT_2)  # money hashed as cents (the stored thousandths / 10)
_MONEY = {c for c, k in LINE_KINDS.items() if k == "money"} | {c for c, k in REP_PERIOD_KINDS.items() if k == "money"}


def _cents_of(units: int | None) -> int | str | None:
    """Stored thousandths as the cents a format-1/2 seal hashed; a value with a third decimal cannot have been
    sealed so: it is hashed as text, which never matches."""
    if units is None:
        return None
    q, r = divmod(int(units), 10)
    return q if not r else f"{units}/1000"


def _in_cents(rows: list, money_at: list[int]) -> list:
    out = []
    for r in rows:
        r = list(r)
        for i in money_at:
            r[i] = _cents_of(r[i])
        out.append(r)
    return out


def total_units(amount: Decimal, seal_format: str) -> int:
    """A seal's total as its format hashes it: cents (formats 1, 2) or thousandths (3)."""
    return to_cents(amount) if seal_format in CENT_FORMATS else to_thousandths(amount)


def from_total_units(units: int, seal_format: str) -> Decimal:
    return from_cents(units) if seal_format in CENT_FORMATS else from_thousandths(units)

FETCH = 20_000  # rows per fetch from the cursor
MAX_FAILURES = 200  # failures listed one by one; the rest are counted

# ------------------------------------------------------------------ the month's digest


@dataclass(frozen=True)
class MonthDigest:
    lines_digest: str
    line_count: int
    total_cents: int  # the total as the format hashes it: cents (formats 1, 2), thousandths (format 3)
    seal_format: str = SEAL_FORMAT

    @property
    def total(self) -> Decimal:
        return from_total_units(self.total_cents, self.seal_format)


def _stream(session: Session, sql: str, params: tuple) -> Iterator[list[tuple]]:
    """Batches of rows from a server-side cursor (PostgreSQL) or SQLite's cursor (which steps the query)."""
    conn = session.connection()
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        cur = raw.cursor(name="compengine_seal")  # server-side: the month never sits in memory
        cur.itersize = FETCH
        sql = sql.replace("?", "%s")
    else:
        cur = raw.cursor()
    try:
        cur.execute(sql, params)
        while True:
            rows = cur.fetchmany(FETCH)
            if not rows:
                break
            yield rows
    finally:
        cur.close()


def month_digest(session: Session, period: Period | str, seal_format: str = SEAL_FORMAT) -> MonthDigest:
    """The canonical SHA-256 of a month's payout lines and rep totals in a seal format (see the module docstring)."""
    p = str(period)
    line_columns, rep_period_columns = _columns(seal_format)
    session.flush()
    per_rep: dict[str, tuple[int, int, str]] = {}
    rep_id: str | None = None
    h = None
    count = total = 0
    started = False

    def finish() -> None:
        if rep_id is not None:
            h.update(b"]")  # type: ignore[union-attr]
            per_rep[rep_id] = (count, total, h.hexdigest())  # type: ignore[union-attr]

    amount_at = line_columns.index("amount")
    in_cents = seal_format in CENT_FORMATS
    line_money = [i for i, c in enumerate(line_columns) if c in _MONEY]
    rp_money = [i for i, c in enumerate(rep_period_columns) if c in _MONEY]
    sql = (f"SELECT {', '.join(line_columns)} FROM payout_lines WHERE period = ? ORDER BY rep_id, seq, id")
    for batch in _stream(session, sql, (p,)):
        for rid, rows in groupby(batch, key=lambda r: r[1]):
            rows = _in_cents(rows, line_money) if in_cents else list(rows)
            if rid != rep_id:
                finish()
                if rid in per_rep:  # ORDER BY rep_id keeps a rep's lines together under any collation
                    raise CompErrors(f"the lines of {p} did not come grouped by rep: cannot seal")
                rep_id, h, count, total, started = rid, hashlib.sha256(b"["), 0, 0, False
            text = encode(rows)[1:-1]  # rows as a JSON array, fed in pieces: the same bytes in any batching
            h.update(((b"," if started else b"") + text.encode("utf-8", "surrogatepass")))  # type: ignore[union-attr]
            started = True
            count += len(rows)
            total += sum(r[amount_at] if isinstance(r[amount_at], int) else 0 for r in rows)
    finish()

    rps = {r[1]: r for batch in _stream(session, f"SELECT {', '.join(rep_period_columns)} FROM rep_periods WHERE period = ?",
                                        (p,)) for r in (_in_cents(batch, rp_money) if in_cents else batch)}
    month = hashlib.sha256(f"{seal_format} {p}\n".encode())
    line_count = total_cents = 0
    for rid in sorted(per_rep.keys() | rps.keys()):
        n, cents, digest = per_rep.get(rid, (0, 0, sha("[]")))
        line_count += n
        total_cents += cents
        rp = rps.get(rid)
        month.update((encode([rid, n, cents, digest, list(rp) if rp is not None else None]) + "\n")
                     .encode("utf-8", "surrogatepass"))
    return MonthDigest(month.hexdigest(), line_count, total_cents, seal_format)


def _columns(seal_format: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        return SEAL_FORMATS[seal_format]
    except KeyError:
        raise CompErrors(f"unknown seal format {seal_format!r} (this version knows {', '.join(SEAL_FORMATS)}): "
                         "upgrade compengine") from None


def seal_hash(period: str, lines_digest: str, line_count: int, total_cents: int, prev_seal: str | None,
              sealed_at: datetime, sealed_by: str, seal_format: str = SEAL_FORMAT) -> str:
    return sha(encode([seal_format, period, lines_digest, line_count, total_cents, prev_seal, ts(sealed_at), sealed_by]))


def _row_seal(row: PeriodSeal) -> str:
    fmt = row.format or SEAL_FORMAT_1
    return seal_hash(row.period, row.lines_digest, row.line_count, total_units(row.total_payout, fmt), row.prev_seal,
                     row.sealed_at, row.sealed_by, fmt)


# ------------------------------------------------------------------ writing seals


def current_seal(session: Session, period: Period | str) -> PeriodSeal | None:
    """The month's latest seal, if it has not been marked reopened."""
    row = session.scalars(select(PeriodSeal).where(PeriodSeal.period == str(period)).order_by(PeriodSeal.id.desc())
                          .limit(1)).first()
    return row if row is not None and row.reopened_at is None else None


def seal_period(session: Session, period: Period | str, actor: str, now: datetime) -> PeriodSeal:
    """Seal a month being locked: digest its lines and rep totals, chain to the previous locked month's seal,
    write the ``period_seals`` row and a ``period.seal`` audit entry. Call it in the lock's transaction."""
    p = str(period)
    if current_seal(session, p) is not None:
        raise CompErrors(f"period {p} is already sealed: a reopen must mark its seal reopened (seals.mark_reopened) "
                         "before the month is locked again")
    d = month_digest(session, p, SEAL_FORMAT)
    prev = session.scalars(select(PeriodSeal).where(PeriodSeal.period < p, PeriodSeal.reopened_at.is_(None))
                           .order_by(PeriodSeal.period.desc(), PeriodSeal.id.desc()).limit(1)).first()
    prev_seal = prev.seal if prev is not None else None
    row = PeriodSeal(period=p, lines_digest=d.lines_digest, line_count=d.line_count, total_payout=d.total,
                     prev_seal=prev_seal, seal=seal_hash(p, d.lines_digest, d.line_count, d.total_cents, prev_seal, now, actor,
                                                         SEAL_FORMAT),
                     sealed_at=now, sealed_by=actor, format=SEAL_FORMAT)
    session.add(row)
    session.flush()
    audit(session, actor, SEAL_ACTION, f"{p} sealed: {d.line_count} lines, total {shown(d.total)}, "
          f"seal {row.seal[:16]}", period=p, entity="period", entity_id=p,
          after={"seal": row.seal, "lines_digest": d.lines_digest, "prev_seal": prev_seal}, at=now)
    return row


def mark_reopened(session: Session, period: Period | str, now: datetime) -> PeriodSeal | None:
    """Mark the month's current seal reopened (the only change the database allows to a seal).

    Returns the seal, or None when the month has none (locked before seals existed). A month
    locked again later gets a new seal chained to the previous locked month's current seal."""
    row = current_seal(session, period)
    if row is not None:
        row.reopened_at = now
        session.flush()
    return row


# ------------------------------------------------------------------ checking


@dataclass(frozen=True)
class Failure:
    """Something the hashes do not vouch for: a month (``period``) or an audit entry (``entry_id``)."""

    kind: str  # seal | audit
    message: str
    period: str | None = None
    entry_id: int | None = None

    def __str__(self) -> str:
        where = self.period if self.kind == "seal" else f"audit entry {self.entry_id}"
        return f"{where}: {self.message}" if where else self.message


@dataclass
class MonthCheck:
    period: str
    status: str
    sealed: bool
    line_count: int | None
    total_payout: str | None  # money as text: two places, three for a third decimal (KWD)
    seal: str | None
    ok: bool
    note: str = ""


@dataclass
class VerifyReport:
    months: list[MonthCheck]
    audit_entries: int
    audit_legacy: int  # unchained legacy entries before the first hashed one
    audit_head: str | None  # hash of the last entry: record it elsewhere to detect a rewritten tail
    failures: list[Failure] = field(default_factory=list)
    more_failures: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "months": [asdict(m) for m in self.months],
            "audit": {"entries": self.audit_entries, "unchained_legacy": self.audit_legacy, "head": self.audit_head},
            "failures": [asdict(f) for f in self.failures],
            "more_failures": self.more_failures,
        }

    def text(self) -> str:
        out = [f"{'month':<8} {'status':<10} {'lines':>10} {'total payout':>16}  {'seal':<16}  result"]
        for m in self.months:
            total = shown(Decimal(m.total_payout)) if m.total_payout is not None else "-"
            lines = f"{m.line_count:,}" if m.line_count is not None else "-"
            out.append(f"{m.period:<8} {m.status:<10} {lines:>10} {total:>16}  {(m.seal or '-')[:16]:<16}  "
                       f"{'ok' if m.ok else 'FAILED'}{': ' + m.note if m.note else ''}")
        audit_ok = not any(f.kind == "audit" for f in self.failures)
        legacy = f", {self.audit_legacy} unchained legacy" if self.audit_legacy else ""
        out.append(f"audit log: {self.audit_entries} entries{legacy}, head {(self.audit_head or '-')[:16]}  "
                   f"{'ok' if audit_ok else 'FAILED'}")
        for f in self.failures:
            out.append(f"FAILED {f}")
        if self.more_failures:
            out.append(f"... and {self.more_failures} more failure(s) (see --json)")
        out.append("verified: every locked month matches its seal and the audit chain is intact" if self.ok
                   else f"verify FAILED: {len(self.failures) + self.more_failures} problem(s)")
        return "\n".join(out) + "\n"


def _money_text(cents: int) -> str:
    return f"{from_cents(cents):f}"


def check_month(session: Session, period: Period | str) -> list[str]:
    """Problems of one locked month against its seal (empty: it matches). For reconcile."""
    p = str(period)
    seals = session.scalars(select(PeriodSeal).where(PeriodSeal.period == p).order_by(PeriodSeal.id)).all()
    if not seals:
        if session.scalar(select(PeriodSeal.id).where(PeriodSeal.period > p).limit(1)) is not None:
            return [f"{p} is locked but has no seal (a later month has one: the seal was removed)"]
        return []  # locked before seals existed
    problems = _month_problems(session, p, seals[-1])
    return problems


def _month_problems(session: Session, p: str, seal: PeriodSeal) -> list[str]:
    out = []
    if seal.reopened_at is not None:
        return [f"{p}: locked, but its seal was marked reopened at {seal.reopened_at:%Y-%m-%d %H:%M} and no new seal written"]
    fmt = seal.format or SEAL_FORMAT_1
    if fmt not in SEAL_FORMATS:
        return [f"{p}: its seal (row {seal.id}) is in format {fmt!r}, which this version does not know: upgrade compengine"]
    if _row_seal(seal) != seal.seal:
        out.append(f"{p}: the seal row (id {seal.id}) does not match its own contents: the seal was changed")
    d = month_digest(session, p, fmt)
    sealed_cents = total_units(seal.total_payout, fmt)
    if d.lines_digest != seal.lines_digest or d.line_count != seal.line_count or d.total_cents != sealed_cents:
        what = (f"sealed {seal.line_count:,} lines, total {shown(seal.total_payout)}; "
                f"now {d.line_count:,} lines, total {shown(d.total)}")
        out.append(f"{p}: its payout lines or rep totals differ from the seal of {seal.sealed_at:%Y-%m-%d %H:%M} by "
                   f"{seal.sealed_by} ({what})")
    prow = session.get(PeriodRow, p)
    if prow is not None and (prow.line_count != seal.line_count
                             or (prow.total_payout is not None and prow.total_payout != seal.total_payout)):
        out.append(f"{p}: the period row records {prow.line_count:,} lines, total "
                   f"{'-' if prow.total_payout is None else shown(prow.total_payout)}; the seal {seal.line_count:,} lines, "
                   f"total {shown(seal.total_payout)}")
    return out


def verify(session: Session) -> VerifyReport:
    """Check every seal (contents, chain, against the stored lines for locked months) and the audit chain."""
    failures: list[Failure] = []
    periods = {r.period: r for r in session.scalars(select(PeriodRow).order_by(PeriodRow.period))}
    seals = session.scalars(select(PeriodSeal).order_by(PeriodSeal.id)).all()

    # -- the seal chain, in the order the seals were written
    current: dict[str, PeriodSeal] = {}
    for s in seals:
        if (s.format or SEAL_FORMAT_1) not in SEAL_FORMATS:
            failures.append(Failure("seal", f"seal row {s.id} is in format {s.format!r}, which this version does not "
                                            "know: upgrade compengine", period=s.period))
        elif _row_seal(s) != s.seal:
            failures.append(Failure("seal", f"seal row {s.id} does not match its own contents: the seal was changed",
                                    period=s.period))
        earlier = [q for q in current if q < s.period]
        expected = current[max(earlier)].seal if earlier else None
        if s.prev_seal != expected:
            failures.append(Failure("seal", f"seal row {s.id} links to {str(s.prev_seal)[:16]}, but the previous locked "
                                            f"month's seal then was {str(expected)[:16]}: a seal was changed or removed",
                                    period=s.period))
        prior = current.get(s.period)
        if prior is not None and prior.reopened_at is None:
            failures.append(Failure("seal", f"sealed again (seal row {s.id}) without the earlier seal (row {prior.id}) "
                                            "being marked reopened", period=s.period))
        current[s.period] = s

    # -- each month against its current seal
    first_sealed = min(current) if current else None
    months: list[MonthCheck] = []
    for p, prow in periods.items():
        s = current.get(p)
        if prow.status != "locked":
            if s is not None and s.reopened_at is None:
                failures.append(Failure("seal", f"has a seal (row {s.id}) but is {prow.status}, not locked: it was unlocked "
                                                "without its seal being marked reopened", period=p))
                months.append(MonthCheck(p, prow.status, True, None, None, s.seal, False, "unlocked behind its seal"))
            continue
        if s is None:
            if first_sealed is None or p < first_sealed:
                months.append(MonthCheck(p, "locked", False, prow.line_count,
                                         None if prow.total_payout is None else f"{prow.total_payout:f}", None, True,
                                         "locked before seals existed (not sealed)"))
            else:
                failures.append(Failure("seal", "is locked but has no seal: its seal was removed", period=p))
                months.append(MonthCheck(p, "locked", False, None, None, None, False, "no seal"))
            continue
        problems = _month_problems(session, p, s)
        failures.extend(Failure("seal", m.split(": ", 1)[1] if m.startswith(f"{p}: ") else m, period=p) for m in problems)
        months.append(MonthCheck(p, "locked", True, s.line_count, f"{s.total_payout:f}", s.seal, not problems,
                                 "" if not problems else "differs from its seal"))

    # -- the audit chain, by id
    entries = legacy = 0
    last: str | None = None
    chained = False
    seal_entries: dict[str, int] = {}
    q = (select(AuditRow.id, AuditRow.at, AuditRow.actor, AuditRow.action, AuditRow.period, AuditRow.rep_id,
                AuditRow.entity, AuditRow.entity_id, AuditRow.summary, AuditRow.before, AuditRow.after,
                AuditRow.prev_hash, AuditRow.hash).order_by(AuditRow.id).execution_options(yield_per=5000))
    for (id_, at, actor, action, period, rep_id, entity, entity_id, summary, before, after, prev_hash,
         hash_) in session.execute(q):
        entries += 1
        if hash_ is None and not chained:
            legacy += 1
            continue
        if hash_ is None:
            failures.append(Failure("audit", "has no hash although entries before it are chained: written around the "
                                             "chain or its hash removed", entry_id=id_))
            last = None
            continue
        if not chained and prev_hash is not None:
            failures.append(Failure("audit", "the chain starts here with a link to an entry that is not there: "
                                             "entries before it were deleted", entry_id=id_))
        elif chained and prev_hash != last:
            failures.append(Failure("audit", "its link (prev_hash) does not match the hash of the entry before it: "
                                             "an entry before it was changed or deleted", entry_id=id_))
        chained = True
        if audit_hash(at, actor, action, period, rep_id, entity, entity_id, summary, before, after, prev_hash) != hash_:
            failures.append(Failure("audit", f"its contents do not match its hash: the entry was changed ({action}: "
                                             f"{summary[:60]!r})", entry_id=id_))
        if action == SEAL_ACTION and after:
            try:
                seal_entries[json.loads(after)["seal"]] = id_
            except (ValueError, KeyError, TypeError):
                failures.append(Failure("audit", "a period.seal entry without a seal", entry_id=id_))
        last = hash_

    # -- the two chains name each other
    known = {s.seal for s in seals}
    for s in seals:
        if s.seal not in seal_entries:
            failures.append(Failure("seal", f"seal row {s.id} has no period.seal entry in the audit log", period=s.period))
    for seal, id_ in seal_entries.items():
        if seal not in known:
            failures.append(Failure("audit", f"records seal {seal[:16]}, which is not in period_seals: a seal was "
                                             "removed or replaced", entry_id=id_))

    failing = {f.period for f in failures if f.period}
    for m in months:
        if m.ok and m.period in failing:
            m.ok, m.note = False, "seal chain broken"
    more = max(0, len(failures) - MAX_FAILURES)
    return VerifyReport(months, entries, legacy, last, failures[:MAX_FAILURES], more)
