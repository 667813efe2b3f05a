"""What was true when: effective-dated master data, and the rules that keep locked months as they were priced.

Five histories, each type-2 (a change adds rows; replaced rows are marked
``superseded_at`` and kept, with the import that recorded them):

* **reps** (``rep_versions``): name, email, manager, team, hire and termination dates,
  each version in force from ``valid_from`` until the next. ``reps.csv`` has no dates,
  so a change takes effect from the **first open month** (:func:`first_open_day`).
* **assignments** (``assignments`` rows with ``superseded_at``): plan, quota, start, end.
* **quotas** (``quotas`` rows with ``superseded_at``; quotas.csv): a rep's annual quota per plan
  component, start, end; changes over locked months are refused or retroactive like assignments'.
* **exchange rates** (``fx_rates``; fx_rates.csv, migration 0008): a rate in force from its day until the
  pair's next. A rate imported again for the same pair and day with another value is a new row and
  the row it corrects is superseded; a rate the file no longer lists stays (files often hold only
  recent rates). A rate recorded after a month was locked that is in force in it (a new one, or a
  correction) is a late change: the next close reprices the month and pays the difference in the
  first open month (``close.late_change_adjustments``), no ``--retroactive`` needed.
* **plan versions** (``plan_schedule``): which stored text is in force from when to when.
  A plan file without ``effective_from`` that changed is in force from the first open
  month; a dated file covers its own range.

A locked month is always priced with the current (not superseded) rows *in force in
it*. Forward changes never change what is in force in a locked month, so a locked
month recalculated for a late deal change is priced as it was locked. A change that
would (:func:`assignment_changes`, :func:`plan_changes`) is refused unless the import is
``--retroactive``; then it is recorded in ``retro_changes`` and the next close reprices
the months it reaches (``close.late_change_adjustments``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors, Source
from compengine.core.fx import FxRate, FxRates
from compengine.core.money import shown
from compengine.core.periods import Period
from compengine.engine.records import Assignment, Quota, Rep
from compengine.ledger.models import (
    AssignmentRow,
    FxRateRow,
    ImportBatch,
    PeriodRow,
    PlanScheduleRow,
    PlanVersion,
    QuotaRow,
    RepRow,
    RepVersionRow,
    RetroChangeRow,
)

BEGINNING = date(1970, 1, 1)  # "in force from the beginning" (the first date input may carry)
REP_FIELDS = ("name", "email", "manager_id", "team", "hire_date", "termination_date")


def locked_periods(session: Session) -> list[Period]:
    return sorted(Period.parse(p) for p in session.scalars(select(PeriodRow.period).where(PeriodRow.status == "locked")))


def first_open_period(session: Session) -> Period | None:
    """The month after the last locked one (None when nothing is locked)."""
    locked = locked_periods(session)
    return locked[-1].next() if locked else None


def first_open_day(session: Session) -> date:
    """From when an undated change takes effect: the first day of the first open month,
    or the beginning when no month is locked (then nothing priced is changed by it)."""
    p = first_open_period(session)
    return p.start if p is not None else BEGINNING


def span(months: Sequence[Period]) -> str:
    """``2026-01..2026-10`` (or one month) for consecutive months."""
    if not months:
        return ""
    months = sorted(months)
    return str(months[0]) if len(months) == 1 else f"{months[0]}..{months[-1]}"


# ------------------------------------------------------------------ reps


def rep_of(row: RepVersionRow | RepRow, valid_from: date | None = None) -> Rep:
    return Rep(rep_id=row.rep_id, name=row.name, email=row.email, manager_id=row.manager_id, team=row.team,
               hire_date=row.hire_date, termination_date=row.termination_date, valid_from=valid_from)


def _dated_versions(session: Session, rep_ids: Iterable[str] | None = None) -> dict[str, list[tuple[date, Rep]]]:
    q = select(RepVersionRow).where(RepVersionRow.superseded_at.is_(None))
    if rep_ids is not None:
        q = q.where(RepVersionRow.rep_id.in_(list(rep_ids)))
    out: dict[str, list[tuple[date, Rep]]] = defaultdict(list)
    for row in session.scalars(q.order_by(RepVersionRow.rep_id, RepVersionRow.valid_from, RepVersionRow.id)):
        out[row.rep_id].append((row.valid_from, rep_of(row, row.valid_from)))
    return dict(out)


def rep_versions(session: Session, rep_ids: Iterable[str] | None = None) -> dict[str, list[Rep]]:
    """Each rep's current versions, oldest first (``Rep.valid_from`` says from when)."""
    return {rep_id: [r for _, r in vs] for rep_id, vs in _dated_versions(session, rep_ids).items()}


def version_on(versions: Sequence[tuple[date, Rep]], day: date) -> Rep:
    """The version in force on ``day``: the latest that started on or before it (the first
    version also covers the days before it)."""
    best = versions[0][1]
    for start, v in versions:
        if start <= day:
            best = v
    return best


def reps_on(session: Session, day: date) -> tuple[dict[str, Rep], dict[str, list[Rep]]]:
    """Every rep as in force on ``day``, and all reps' versions (for the manager on a close date)."""
    dated = _dated_versions(session)
    return ({rep_id: version_on(vs, day) for rep_id, vs in dated.items()},
            {rep_id: [r for _, r in vs] for rep_id, vs in dated.items()})


def _rep_fields(rep) -> dict:  # noqa: ANN001 - a datafiles Rep
    return {"name": rep.name, "email": rep.email, "manager_id": rep.manager_id, "team": rep.team,
            "hire_date": rep.hire_date, "termination_date": getattr(rep, "termination_date", None)}


def _show(v: object) -> str:
    if v is None or v == "":
        return "(none)"
    if isinstance(v, Decimal):
        return shown(v)
    return str(v)


def import_reps(session: Session, reps: Iterable, batch: ImportBatch,
                now: datetime) -> tuple[int, list[str], list[dict], list[str]]:
    """Add new reps and new versions of changed ones (in force from the first open month).

    Returns (reps added, one line per change for the import summary, audit records, one line per changed
    statement locale: set on the latest rep row, not a version, and repricing nothing).
    """
    day = first_open_day(session)
    latest: dict[str, RepVersionRow] = {}
    for row in session.scalars(select(RepVersionRow).where(RepVersionRow.superseded_at.is_(None))
                               .order_by(RepVersionRow.valid_from, RepVersionRow.id)):
        latest[row.rep_id] = row
    projection = {r.rep_id: r for r in session.scalars(select(RepRow))}
    added = 0
    changes: list[str] = []
    audits: list[dict] = []
    locales: list[str] = []
    for rep in reps:
        fields = _rep_fields(rep)
        src = str(rep.source) if getattr(rep, "source", None) else ""
        row = latest.get(rep.rep_id)
        locale = getattr(rep, "locale", None)
        known = projection.get(rep.rep_id)
        if known is not None and known.locale != locale:  # how statements are written: the latest row only
            locales.append(f"{rep.rep_id}: statement locale {_show(known.locale)} -> {_show(locale)} (not priced)")
            known.locale = locale
        if row is None:
            if rep.rep_id not in projection:
                session.add(RepRow(rep_id=rep.rep_id, **fields, locale=locale))
            else:  # a rep of a ledger made before history (should not happen after migration 0006)
                for k, v in fields.items():
                    setattr(projection[rep.rep_id], k, v)
            session.add(RepVersionRow(rep_id=rep.rep_id, valid_from=BEGINNING, recorded_at=now, batch_id=batch.id,
                                      source=src, **fields))
            added += 1
            continue
        before = {k: getattr(row, k) for k in REP_FIELDS}
        if before == fields:
            continue
        what = ", ".join(f"{k} {_show(before[k])} -> {_show(fields[k])}" for k in REP_FIELDS if before[k] != fields[k])
        start = max(day, row.valid_from)
        if row.valid_from >= day:  # a version of the same open stretch: replaced
            row.superseded_at = now
        session.add(RepVersionRow(rep_id=rep.rep_id, valid_from=start, recorded_at=now, batch_id=batch.id, source=src,
                                  **fields))
        for k, v in fields.items():
            setattr(projection[rep.rep_id], k, v)
        when = "from the beginning (no month is locked)" if start == BEGINNING else f"from {Period.of(start)} (the first open month)"
        changes.append(f"{rep.rep_id}: {what} {when}")
        audits.append({"rep_id": rep.rep_id, "summary": f"rep {rep.rep_id} changed {when}: {what}",
                       "before": before, "after": fields | {"valid_from": start}})
    return added, changes, audits, locales


# ------------------------------------------------------------------ assignments


def current_assignments(session: Session, rep_ids: Iterable[str] | None = None) -> list[AssignmentRow]:
    q = select(AssignmentRow).where(AssignmentRow.superseded_at.is_(None))
    if rep_ids is not None:
        q = q.where(AssignmentRow.rep_id.in_(list(rep_ids)))
    return list(session.scalars(q.order_by(AssignmentRow.rep_id, AssignmentRow.start, AssignmentRow.id)))


def load_assignments(session: Session) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = defaultdict(list)
    for a in current_assignments(session):
        out[a.rep_id].append(Assignment(rep_id=a.rep_id, plan_id=a.plan_id, start=a.start, end=a.end,
                                        annual_quota=a.annual_quota))
    return dict(out)


Key = tuple  # (plan_id, start, end, annual_quota)


def _clip(rows: Iterable[Key], first: date, last: date) -> set[Key]:
    """What the rows say about the days first..last: each row cut to them."""
    out = set()
    for plan_id, start, end, quota in rows:
        if start > last or (end is not None and end < first):
            continue
        out.add((plan_id, max(start, first), min(end, last) if end is not None else last, quota))
    return out


def reached_months(old: Iterable[Key], new: Iterable[Key], locked: Sequence[Period]) -> list[Period]:
    """The locked months in which the two sets of assignment rows differ."""
    old, new = list(old), list(new)
    return [m for m in locked if _clip(old, m.start, m.end) != _clip(new, m.start, m.end)]


def describe_assignment_change(rep_id: str, old: Sequence[Key], new: Sequence[Key],
                               plan_quota: dict[str, Decimal] | None = None) -> str:
    """``R1 quota 1,200,000.00 -> 600,000.00 from 2026-01`` and the like (``plan_quota``: each
    plan's own annual quota, shown for a row that has none)."""
    plan_quota = plan_quota or {}

    def quota(k: Key) -> str:
        q = k[3] if k[3] is not None else plan_quota.get(k[0])
        return _show(q) if q is not None else "the plan's quota"

    gone = sorted(set(old) - set(new), key=lambda k: k[1])
    came = sorted(set(new) - set(old), key=lambda k: k[1])
    parts = []
    for n in came:
        match = next((o for o in gone if o[0] == n[0] and o[1] == n[1]), None) or \
            next((o for o in gone if o[1] == n[1]), None)
        if match is not None:
            gone.remove(match)
            diffs = []
            if match[0] != n[0]:
                diffs.append(f"plan {match[0]} -> {n[0]}")
            if match[3] != n[3]:
                diffs.append(f"quota {quota(match)} -> {quota(n)}")
            if match[2] != n[2]:
                diffs.append(f"end {_show(match[2])} -> {_show(n[2])}")
            parts.append(f"{rep_id} {', '.join(diffs)} from {Period.of(n[1])}")
        else:
            parts.append(f"{rep_id} new assignment {n[0]} from {n[1]}" + (f" to {n[2]}" if n[2] else "")
                         + (f" (quota {_show(n[3])})" if n[3] is not None else ""))
    for o in gone:
        parts.append(f"{rep_id} assignment {o[0]} from {o[1]} removed")
    return "; ".join(parts)


@dataclass
class Change:
    """A master-data change of one import that reaches locked months."""

    where: str  # file:line
    rep_id: str | None
    plan_id: str | None
    months: list[Period]
    description: str

    def refusal(self) -> str:
        return (f"{self.where}: {self.description} would reprice locked month(s) {span(self.months)}: "
                "import with --retroactive to recalculate them and pay the differences in the first open month, "
                "or start the change in an open month")


def import_assignments(session: Session, assignments: Iterable, batch: ImportBatch, now: datetime,
                       locked: Sequence[Period], plan_quota: dict[str, Decimal] | None = None,
                       ) -> tuple[list[str], list[Change], list[dict]]:
    """Supersede and add assignment rows per rep in the file (reps not in the file keep theirs).

    Returns (reps whose rows changed, the changes that reach locked months, audit records).
    Nothing is refused here; the caller refuses when changes reach locked months without
    ``--retroactive`` (and rolls back).
    """
    current: dict[str, list[AssignmentRow]] = defaultdict(list)
    for a in current_assignments(session):
        current[a.rep_id].append(a)
    wanted: dict[str, list] = defaultdict(list)
    for a in assignments:
        wanted[a.rep_id].append(a)
    changed: list[str] = []
    reaching: list[Change] = []
    audits: list[dict] = []
    for rep_id in sorted(wanted):
        old_rows = current.get(rep_id, [])
        old = {(r.plan_id, r.start, r.end, r.annual_quota): r for r in old_rows}
        new = {(a.plan_id, a.start, a.end, a.annual_quota): a for a in wanted[rep_id]}
        if set(old) == set(new):
            continue
        months = reached_months(old, new, locked)
        came = [new[k] for k in sorted(set(new) - set(old), key=lambda k: k[1])]
        first_src = next((str(a.source) for a in came if getattr(a, "source", None)), "assignments.csv")
        description = describe_assignment_change(rep_id, list(old), list(new), plan_quota)
        if months:
            reaching.append(Change(first_src, rep_id, None, months, description))
        for key, row in old.items():
            if key not in new:
                row.superseded_at = now
        for key, a in new.items():
            if key not in old:
                session.add(AssignmentRow(rep_id=rep_id, plan_id=a.plan_id, start=a.start, end=a.end,
                                          annual_quota=a.annual_quota, recorded_at=now, batch_id=batch.id,
                                          source=str(a.source) if getattr(a, "source", None) else ""))
        changed.append(rep_id)
        audits.append({"rep_id": rep_id, "summary": f"assignments of {rep_id}: {description}",
                       "before": sorted(old, key=lambda k: k[1]), "after": sorted(new, key=lambda k: k[1])})
    return changed, reaching, audits


# ------------------------------------------------------------------ quotas (per plan component)


def current_quotas(session: Session, rep_ids: Iterable[str] | None = None) -> list[QuotaRow]:
    q = select(QuotaRow).where(QuotaRow.superseded_at.is_(None))
    if rep_ids is not None:
        q = q.where(QuotaRow.rep_id.in_(list(rep_ids)))
    return list(session.scalars(q.order_by(QuotaRow.rep_id, QuotaRow.plan_id, QuotaRow.component, QuotaRow.start,
                                           QuotaRow.id)))


def load_quotas(session: Session) -> dict[str, list[Quota]]:
    """The current quota rows by rep (each rep's by plan, component, start): what the engine takes.
    A row's ``source`` is the quotas.csv file:line that recorded it."""
    out: dict[str, list[Quota]] = defaultdict(list)
    for q in current_quotas(session):
        out[q.rep_id].append(Quota(rep_id=q.rep_id, plan_id=q.plan_id, component=q.component, start=q.start, end=q.end,
                                   annual=q.annual, source=_source_of(q.source)))
    return dict(out)


def _source_of(text: str) -> Source | None:
    """A stored ``file:line`` back into a Source."""
    if not text:
        return None
    file, _, line = text.rpartition(":")
    return Source(file, int(line)) if file and line.isdigit() else Source(text)


def describe_quota_change(rep_id: str, old: Iterable[tuple], new: Iterable[tuple]) -> str:
    """``R1 quota new_logo on ae-2026 300,000.00 -> 360,000.00 from 2026-10`` and the like."""
    gone = sorted(set(old) - set(new), key=lambda k: (k[0], k[1]))
    came = sorted(set(new) - set(old), key=lambda k: (k[0], k[1]))
    parts = []
    for n in came:
        (plan_id, component), start, end, annual = n
        match = next((o for o in gone if o[0] == n[0] and o[1] == start), None)
        what = f"{rep_id} quota {component} of {plan_id}"
        if match is not None:
            gone.remove(match)
            diffs = []
            if match[3] != annual:
                diffs.append(f"{_show(match[3])} -> {_show(annual)}")
            if match[2] != end:
                diffs.append(f"end {_show(match[2])} -> {_show(end)}")
            parts.append(f"{what} {', '.join(diffs)} from {Period.of(start)}")
        else:
            parts.append(f"{what} {_show(annual)} from {start}" + (f" to {end}" if end else ""))
    for (plan_id, component), start, _end, _annual in gone:
        parts.append(f"{rep_id} quota {component} of {plan_id} from {start} removed")
    return "; ".join(parts)


def import_quotas(session: Session, quotas: Iterable, batch: ImportBatch, now: datetime,
                  locked: Sequence[Period]) -> tuple[list[str], list[Change], list[dict]]:
    """Supersede and add quota rows per rep in the file (reps not in the file keep theirs), as
    :func:`import_assignments` does for assignments.

    Returns (reps whose rows changed, the changes that reach locked months, audit records). A
    change reaches a locked month when the rows in force on any of its days differ; the caller
    refuses those unless ``--retroactive`` (then the next close reprices the months).
    """
    current: dict[str, list[QuotaRow]] = defaultdict(list)
    for q in current_quotas(session):
        current[q.rep_id].append(q)
    wanted: dict[str, list] = defaultdict(list)
    for q in quotas:
        wanted[q.rep_id].append(q)
    changed: list[str] = []
    reaching: list[Change] = []
    audits: list[dict] = []
    for rep_id in sorted(wanted):
        # keys shaped like assignments' (what, start, end, amount): reached_months clips them by day
        old = {((r.plan_id, r.component), r.start, r.end, r.annual): r for r in current.get(rep_id, [])}
        new = {((q.plan_id, q.component), q.start, q.end, q.annual): q for q in wanted[rep_id]}
        if set(old) == set(new):
            continue
        months = reached_months(old, new, locked)
        came = [new[k] for k in sorted(set(new) - set(old), key=lambda k: (k[0], k[1]))]
        first_src = next((str(q.source) for q in came if getattr(q, "source", None)), "quotas.csv")
        description = describe_quota_change(rep_id, list(old), list(new))
        if months:
            reaching.append(Change(first_src, rep_id, None, months, description))
        for key, row in old.items():
            if key not in new:
                row.superseded_at = now
        for key, q in new.items():
            if key not in old:
                session.add(QuotaRow(rep_id=rep_id, plan_id=q.plan_id, component=q.component, start=q.start, end=q.end,
                                     annual=q.annual, recorded_at=now, batch_id=batch.id,
                                     source=str(q.source) if getattr(q, "source", None) else ""))
        changed.append(rep_id)

        def shown(keys: Iterable[tuple]) -> list:
            return [[plan_id, component, start, end, annual] for (plan_id, component), start, end, annual
                    in sorted(keys, key=lambda k: (k[0], k[1]))]

        audits.append({"rep_id": rep_id, "summary": f"quotas of {rep_id}: {description}",
                       "before": shown(old), "after": shown(new)})
    return changed, reaching, audits


# ------------------------------------------------------------------ plan versions


def _day_before(d: date) -> date:
    return d - timedelta(days=1)


def schedule_rows(session: Session, plan_id: str | None = None) -> list[PlanScheduleRow]:
    q = select(PlanScheduleRow).where(PlanScheduleRow.superseded_at.is_(None))
    if plan_id is not None:
        q = q.where(PlanScheduleRow.plan_id == plan_id)
    return list(session.scalars(q.order_by(PlanScheduleRow.plan_id, PlanScheduleRow.effective_from)))


def versions_in_force(session: Session, day: date) -> dict[str, int]:
    """plan id -> stored version id in force on ``day``."""
    out = {}
    for r in schedule_rows(session):
        if r.effective_from <= day and (r.effective_to is None or day <= r.effective_to):
            out[r.plan_id] = r.version_id
    return out


def _in_force(rows: Iterable[tuple[date, date | None, int]], day: date) -> int | None:
    for f, t, vid in rows:
        if f <= day and (t is None or day <= t):
            return vid
    return None


def schedule_plan(session: Session, plan, version_id: int, batch: ImportBatch, now: datetime,
                  locked: Sequence[Period], day: date) -> tuple[str | None, Change | None]:
    """Put a plan version into the schedule over its range: the file's ``effective_from``..
    ``effective_to`` when it has them, else from ``day`` (the first open month) on.

    Returns (a line for the import summary, or None when the schedule already says so;
    the change when it reaches locked months).
    """
    f = getattr(plan, "effective_from", None)
    t = getattr(plan, "effective_to", None)
    dated = f is not None or t is not None
    f = f or (BEGINNING if dated else day)
    rows = schedule_rows(session, plan.id)
    before = [(r.effective_from, r.effective_to, r.version_id) for r in rows]
    # already so: one row of this version covers f..t
    for r in rows:
        if r.version_id == version_id and r.effective_from <= f and (
                r.effective_to is None if t is None else (r.effective_to is None or r.effective_to >= t)):
            return None, None
    after: list[tuple[date, date | None, int]] = []
    for r in rows:
        overlaps = r.effective_from <= (t or date.max) and (r.effective_to is None or r.effective_to >= f)
        if not overlaps:
            continue
        r.superseded_at = now
        if r.effective_from < f:
            after.append((r.effective_from, _day_before(f), r.version_id))
        if t is not None and (r.effective_to is None or r.effective_to > t):
            after.append((t + timedelta(days=1), r.effective_to, r.version_id))
    after.append((f, t, version_id))
    for nf, nt, vid in after:
        session.add(PlanScheduleRow(plan_id=plan.id, version_id=vid, effective_from=nf, effective_to=nt,
                                    recorded_at=now, batch_id=batch.id))
    kept = [(r.effective_from, r.effective_to, r.version_id) for r in rows if r.superseded_at is None]
    new_schedule = kept + after
    months = [m for m in locked if _in_force(before, m.end) != _in_force(new_schedule, m.end)]
    rng = f"{f}.." + (str(t) if t else "") if f != BEGINNING else ("from the beginning" if t is None else f"..{t}")
    line = f"plan {plan.id} version {plan.digest[:12]} ({plan.source.file}) in force {rng}"
    change = None
    if months:
        where = f"{plan.source.file}:{plan.source.line or 1}"
        change = Change(where, None, plan.id, months, f"plan {plan.id} version {plan.digest[:12]} in force {rng}")
    return line, change


def record_retro(session: Session, changes: Sequence[Change], batch: ImportBatch, actor: str, now: datetime) -> None:
    for c in changes:
        session.add(RetroChangeRow(batch_id=batch.id, recorded_at=now, actor=actor, rep_id=c.rep_id, plan_id=c.plan_id,
                                   first_period=str(min(c.months)), last_period=str(max(c.months)),
                                   description=c.description))


def retro_changes_for(session: Session, period: str, after_id: int) -> list[RetroChangeRow]:
    """Retroactive changes recorded after a month was locked (``after_id``) that reach it."""
    return list(session.scalars(select(RetroChangeRow).where(
        RetroChangeRow.id > after_id, RetroChangeRow.first_period <= period, RetroChangeRow.last_period >= period)
        .order_by(RetroChangeRow.id)))


def refuse(changes: Sequence[Change]) -> None:
    if changes:
        raise CompErrors([c.refusal() for c in changes],
                         headline=f"{len(changes)} change(s) would reprice locked months (listed above)")


# ------------------------------------------------------------------ a rep's timeline


def timeline(session: Session, rep_id: str) -> dict:
    """Everything recorded about a rep, in effective order, with what recorded it
    (``compengine history REP``)."""
    if session.get(RepRow, rep_id) is None:
        raise CompErrors(f"unknown rep {rep_id!r}")
    batches = {b.id: b for b in session.scalars(select(ImportBatch))}

    def by(batch_id: int | None) -> dict:
        b = batches.get(batch_id) if batch_id is not None else None
        return {"import": batch_id, "source": b.source if b else None, "actor": b.actor if b else None}

    versions = []
    for v in session.scalars(select(RepVersionRow).where(RepVersionRow.rep_id == rep_id)
                             .order_by(RepVersionRow.valid_from, RepVersionRow.id)):
        versions.append({"valid_from": str(v.valid_from) if v.valid_from != BEGINNING else None,
                         **{k: (str(getattr(v, k)) if isinstance(getattr(v, k), date) else getattr(v, k)) for k in REP_FIELDS},
                         "recorded_at": v.recorded_at.isoformat(timespec="seconds"),
                         "superseded_at": v.superseded_at.isoformat(timespec="seconds") if v.superseded_at else None,
                         "row": v.source, **by(v.batch_id)})
    assignments = []
    plan_ids = set()
    for a in session.scalars(select(AssignmentRow).where(AssignmentRow.rep_id == rep_id)
                             .order_by(AssignmentRow.start, AssignmentRow.id)):
        plan_ids.add(a.plan_id)
        assignments.append({"plan_id": a.plan_id, "start": str(a.start), "end": str(a.end) if a.end else None,
                            "annual_quota": f"{a.annual_quota:.2f}" if a.annual_quota is not None else None,
                            "recorded_at": a.recorded_at.isoformat(timespec="seconds") if a.recorded_at else None,
                            "superseded_at": a.superseded_at.isoformat(timespec="seconds") if a.superseded_at else None,
                            "row": a.source or None, **by(a.batch_id)})
    quotas = [{"plan_id": q.plan_id, "component": q.component, "start": str(q.start), "end": str(q.end) if q.end else None,
               "annual": f"{q.annual:.2f}", "recorded_at": q.recorded_at.isoformat(timespec="seconds"),
               "superseded_at": q.superseded_at.isoformat(timespec="seconds") if q.superseded_at else None,
               "row": q.source or None, **by(q.batch_id)}
              for q in session.scalars(select(QuotaRow).where(QuotaRow.rep_id == rep_id)
                                       .order_by(QuotaRow.plan_id, QuotaRow.component, QuotaRow.start, QuotaRow.id))]
    digests = dict(session.execute(select(PlanVersion.id, PlanVersion.digest)).all())
    files = dict(session.execute(select(PlanVersion.id, PlanVersion.file)).all())
    plans = []
    for r in session.scalars(select(PlanScheduleRow).where(PlanScheduleRow.plan_id.in_(sorted(plan_ids)))
                             .order_by(PlanScheduleRow.plan_id, PlanScheduleRow.effective_from, PlanScheduleRow.id)):
        plans.append({"plan_id": r.plan_id, "version": digests[r.version_id][:12], "file": files[r.version_id],
                      "effective_from": str(r.effective_from) if r.effective_from != BEGINNING else None,
                      "effective_to": str(r.effective_to) if r.effective_to else None,
                      "recorded_at": r.recorded_at.isoformat(timespec="seconds"),
                      "superseded_at": r.superseded_at.isoformat(timespec="seconds") if r.superseded_at else None,
                      **by(r.batch_id)})
    retro = [{"description": r.description, "months": f"{r.first_period}..{r.last_period}",
              "recorded_at": r.recorded_at.isoformat(timespec="seconds"), "actor": r.actor, "import": r.batch_id}
             for r in session.scalars(select(RetroChangeRow).where(RetroChangeRow.rep_id == rep_id).order_by(RetroChangeRow.id))]
    return {"rep_id": rep_id, "versions": versions, "assignments": assignments, "quotas": quotas, "plans": plans,
            "retroactive": retro}


def timeline_text(t: dict) -> str:
    out = [f"History of {t['rep_id']} (superseded rows are marked; every row names the import that recorded it)", "",
           "Rep"]
    for v in t["versions"]:
        when = f"from {v['valid_from']}" if v["valid_from"] else "from the start"
        mark = f"  [superseded {v['superseded_at']}]" if v["superseded_at"] else ""
        out.append(f"  {when:<17} {v['name']}, manager {v['manager_id'] or '-'}, team {v['team'] or '-'}, hired "
                   f"{v['hire_date'] or '-'}" + (f", terminated {v['termination_date']}" if v["termination_date"] else "")
                   + f"  (recorded {v['recorded_at']}" + (f" by import {v['import']}" if v["import"] else "") + f"){mark}")
    out += ["", "Assignments"]
    for a in t["assignments"]:
        mark = f"  [superseded {a['superseded_at']}]" if a["superseded_at"] else ""
        quota = f"quota {shown(Decimal(a['annual_quota']))}" if a["annual_quota"] else "plan quota"
        out.append(f"  {a['start']}..{a['end'] or '':<10} {a['plan_id']}, {quota}  (recorded {a['recorded_at'] or '-'}"
                   + (f", {a['row']}" if a["row"] else "") + f"){mark}")
    if t.get("quotas"):
        out += ["", "Quotas (quotas.csv)"]
        for q in t["quotas"]:
            mark = f"  [superseded {q['superseded_at']}]" if q["superseded_at"] else ""
            out.append(f"  {q['start']}..{q['end'] or '':<10} {q['plan_id']} {q['component']}, annual "
                       f"{shown(Decimal(q['annual']))}  (recorded {q['recorded_at']}" + (f", {q['row']}" if q["row"] else "")
                       + f"){mark}")
    if t["plans"]:
        out += ["", "Plan versions"]
        for p in t["plans"]:
            mark = f"  [superseded {p['superseded_at']}]" if p["superseded_at"] else ""
            rng = f"{p['effective_from'] or 'start'}..{p['effective_to'] or ''}"
            out.append(f"  {p['plan_id']} {p['version']} {rng:<24} {p['file']}  (recorded {p['recorded_at']}){mark}")
    if t["retroactive"]:
        out += ["", "Retroactive changes"]
        for r in t["retroactive"]:
            out.append(f"  {r['recorded_at']} by {r['actor']}: {r['description']} (reprices {r['months']})")
    return "\n".join(out)


# ------------------------------------------------------------------ exchange rates


def current_fx_rows(session: Session, upto_id: int | None = None) -> list[FxRateRow]:
    """The rates in force now (not superseded), by pair and day; with ``upto_id``, as they were when the
    rows up to that id were all there was (a row superseded later by a row above the id counts)."""
    q = select(FxRateRow).order_by(FxRateRow.from_currency, FxRateRow.to_currency, FxRateRow.day, FxRateRow.id)
    if upto_id is None:
        return list(session.scalars(q.where(FxRateRow.superseded_at.is_(None))))
    latest: dict[tuple[str, str, date], FxRateRow] = {}
    for row in session.scalars(q.where(FxRateRow.id <= upto_id)):
        latest[(row.from_currency, row.to_currency, row.day)] = row  # by id: the latest recorded wins
    return list(latest.values())


def load_fx(session: Session, upto_id: int | None = None) -> FxRates | None:
    """The ledger's exchange rates for the engine (None when it holds none: a credit in another
    currency than its receiver's plan is then an exception, as in a folder without fx_rates.csv)."""
    rows = current_fx_rows(session, upto_id)
    if not rows:
        return None
    return FxRates(FxRate(r.day, r.from_currency, r.to_currency, r.rate, _source_of(r.source)) for r in rows)


def last_fx_id(session: Session) -> int:
    """The highest fx_rates id (0 when none): what a close run or a lock has seen."""
    from sqlalchemy import func

    return session.scalar(select(func.max(FxRateRow.id))) or 0


@dataclass(frozen=True)
class FxChange:
    """A rate the import added or corrected: ``was`` is None for a new rate."""

    from_ccy: str
    to_ccy: str
    day: date
    rate: Decimal
    was: Decimal | None

    def __str__(self) -> str:
        pair = f"{self.from_ccy}->{self.to_ccy} from {self.day}"
        return f"{pair} {self.rate:f} (was {self.was:f})" if self.was is not None else f"{pair} {self.rate:f} (new)"


def import_fx_rates(session: Session, fx: FxRates, batch: ImportBatch, now: datetime) -> list[FxChange]:
    """Record a file's rates: new ones added, changed ones added and the rows they correct superseded.

    Nothing is updated but ``superseded_at``; a rate not in the file is kept."""
    have = {(r.from_currency, r.to_currency, r.day): r for r in current_fx_rows(session)}
    changes: list[FxChange] = []
    for rate in fx.rows():
        key = (rate.from_ccy, rate.to_ccy, rate.day)
        old = have.get(key)
        if old is not None and old.rate == rate.rate:
            continue
        if old is not None:
            old.superseded_at = now
        session.add(FxRateRow(day=rate.day, from_currency=rate.from_ccy, to_currency=rate.to_ccy, rate=rate.rate,
                              source=str(rate.source) if rate.source else "", recorded_at=now, batch_id=batch.id))
        changes.append(FxChange(rate.from_ccy, rate.to_ccy, rate.day, rate.rate, old.rate if old is not None else None))
    session.flush()
    return changes


def fx_changes_after(session: Session, period: Period, after_id: int) -> list[FxChange]:
    """Rates recorded after ``after_id`` that can be in force in ``period`` (their day is not after its
    last day): a month locked having seen rows up to ``after_id`` is repriced with them."""
    rows = session.scalars(select(FxRateRow).where(FxRateRow.id > after_id, FxRateRow.day <= period.end)
                           .order_by(FxRateRow.id)).all()
    out = []
    for r in rows:
        was = session.scalar(select(FxRateRow.rate).where(
            FxRateRow.from_currency == r.from_currency, FxRateRow.to_currency == r.to_currency, FxRateRow.day == r.day,
            FxRateRow.id < r.id).order_by(FxRateRow.id.desc()).limit(1))
        out.append(FxChange(r.from_currency, r.to_currency, r.day, r.rate, was))
    return out
