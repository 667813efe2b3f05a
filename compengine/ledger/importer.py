"""``import``: load a data folder and plan files into the ledger, in one transaction.

Nothing is written unless every row is good. New deals become ``won`` events; a
changed amount, quantity, cost or attributes (further deals.csv columns, products.csv's
category) becomes an ``amended`` event (both record all four); a ``cancelled_on`` that appeared
becomes a ``cancelled`` event; changed split rows supersede the old ones with a
``splits_changed`` event. Re-importing the same files changes nothing. A new deal
closing in a locked month is refused (book it in an open month, or adjust).
``deals.source`` keeps the file:line of each deal's latest event (``Credit.source``).
``quotas.csv`` rows are history like assignments (``history.import_quotas``): a change over a
locked month is refused unless ``--retroactive``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import BigInteger, String, select, type_coerce, update
from sqlalchemy.orm import Session

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.periods import Period
from compengine.datafiles import check_currencies, read_data_folder
from compengine.ledger.models import (
    AssignmentRow,
    AuditRow,
    Base,
    DealEvent,
    DealRow,
    ImportBatch,
    PeriodRow,
    PayoutLineRow,
    PlanVersion,
    QuotaRow,
    RepRow,
    SplitRow,
)
from compengine.ledger.history import (
    Change,
    first_open_day,
    import_assignments,
    import_fx_rates,
    import_quotas,
    last_fx_id,
    import_reps,
    locked_periods,
    record_retro,
    refuse,
    schedule_plan,
    span,
)
from compengine.ledger.codec import attrs_text, canonical_text
from compengine.ledger.start import first_period
from compengine.ledger.store import audit, bulk_insert, ensure_period, stored_money, invalidate_from, utcnow
from compengine.plans.catalog import PlanCatalog, load_plan_catalog


def plan_versions_of(catalog: PlanCatalog) -> list:
    """Every plan version of a loaded folder, by id and then by date."""
    return [plan for pid in sorted(catalog.ids()) for plan in catalog.versions(pid)]


@dataclass
class ImportReport:
    plans_added: list[str] = field(default_factory=list)
    reps_added: int = 0
    reps_changed: int = 0
    assignments_changed: int = 0
    quotas_changed: int = 0
    fx_rates_changed: list[str] = field(default_factory=list)  # rates added or corrected (history.FxChange)
    deals_added: int = 0
    amendments: int = 0
    cancellations: int = 0
    splits_changed: int = 0
    deals_unchanged: int = 0
    invalidated: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # deals of locked months changed or added (adjusted in the next open month)
    forward: list[str] = field(default_factory=list)  # master-data changes and from when they apply
    retroactive: list[str] = field(default_factory=list)  # changes imported with --retroactive, and the months they reprice
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.plans_added or self.reps_added or self.reps_changed or self.assignments_changed or self.quotas_changed
            or self.fx_rates_changed or self.deals_added
            or self.amendments or self.cancellations or self.splits_changed or self.forward
        )

    def as_dict(self) -> dict:
        return {
            "changed": self.changed,
            "dry_run": self.dry_run,
            "plans_added": self.plans_added,
            "reps_added": self.reps_added,
            "reps_changed": self.reps_changed,
            "assignments_changed": self.assignments_changed,
            "quotas_changed": self.quotas_changed,
            "fx_rates_changed": self.fx_rates_changed,
            "deals_added": self.deals_added,
            "amendments": self.amendments,
            "cancellations": self.cancellations,
            "splits_changed": self.splits_changed,
            "deals_unchanged": self.deals_unchanged,
            "late_changes": self.late,
            "changes_from": self.forward,
            "retroactive": self.retroactive,
            "notes": self.notes,
            "periods_to_rerun": self.invalidated,
        }

    def text(self) -> str:
        if not self.changed:
            return "\n".join(["No changes: the ledger already holds these files.", *self.notes])
        verb = "Would import" if self.dry_run else "Imported"
        parts = [
            f"{len(self.plans_added)} plan version(s)" if self.plans_added else "",
            f"{self.reps_added} new rep(s)" if self.reps_added else "",
            f"{self.reps_changed} changed rep(s)" if self.reps_changed else "",
            f"{self.assignments_changed} rep(s) with changed assignments" if self.assignments_changed else "",
            f"{self.quotas_changed} rep(s) with changed quotas" if self.quotas_changed else "",
            f"{len(self.fx_rates_changed)} exchange rate(s) added or corrected" if self.fx_rates_changed else "",
            f"{self.deals_added} new deal(s)" if self.deals_added else "",
            f"{self.amendments} amendment(s)" if self.amendments else "",
            f"{self.cancellations} cancellation(s)" if self.cancellations else "",
            f"{self.splits_changed} deal(s) with changed splits" if self.splits_changed else "",
        ]
        out = f"{verb}: " + ", ".join(p for p in parts if p) + f"; {self.deals_unchanged} deal(s) unchanged."
        if self.late:
            out += f"\n{len(self.late)} change(s) to deals of locked months will be adjusted in the next open month: " + ", ".join(self.late[:10])
            if len(self.late) > 10:
                out += ", ..."
        for line in self.forward:
            out += f"\n  {line}"
        if self.retroactive:
            out += ("\nRetroactive (the next close reprices these locked months and pays the differences in the first "
                    "open month):")
            for line in self.retroactive:
                out += f"\n  {line}"
        for line in self.notes:
            out += f"\n{line}"
        if self.invalidated:
            out += "\nNow stale (run them again): " + ", ".join(self.invalidated)
        return out


def import_folder(session: Session, data_dir: Path | str, plans_dir: Path | str, actor: str,
                  *, now: datetime | None = None, dry_run: bool = False, encoding: str | None = None,
                  retroactive: bool = False) -> ImportReport:
    """Import a data folder and its plans. Raises CompErrors (and writes nothing) on any bad input.

    Master data is history (:mod:`compengine.ledger.history`): a changed rep is a new version
    in force from the first open month; assignment rows and plan versions are superseded, not
    deleted. A change that would reprice a locked month is refused unless ``retroactive``; then
    it is recorded and the next close reprices those months, paying the differences.

    ``encoding``: of the CSV files (default: detected, see :func:`compengine.datafiles.detect_encoding`).
    The caller owns the transaction: commit on success, roll back on error or dry run.
    """
    now = now or utcnow()
    catalog, errors = load_plan_catalog(plans_dir)
    plans = catalog.latest()  # the data's checks (plan ids, currencies) read each id's latest version
    if errors:
        raise CompErrors(errors)
    data, errors = read_data_folder(data_dir, plans, encoding=encoding)
    if data.fx is None and last_fx_id(session):
        # the folder has no fx_rates.csv but the ledger holds rates: the close converts a deal in another
        # currency than its receivers' plans (a missing rate is an exception there), as with the file
        unconvertible = {(str(e.source), e.message) for e in check_currencies(data, plans)}
        errors = [e for e in errors if (str(e.source), e.message) not in unconvertible]
    errors.extend(check_lengths(data, plans, data_dir, actor))  # with the others: every error at once
    if errors:
        raise CompErrors(errors)
    report = ImportReport(dry_run=dry_run)
    locked = set(session.scalars(select(PeriodRow.period).where(PeriodRow.status == "locked")))  # under the writer lock
    ledger_start = first_period(session)
    batch = ImportBatch(at=now, actor=actor, source=str(data_dir))
    session.add(batch)
    session.flush()

    # plans: store the exact text of every version seen, and schedule it (history.schedule_plan)
    locked_months = locked_periods(session)
    open_day = first_open_day(session)
    reaching: list[Change] = []
    known = {(pid, dg): vid for vid, pid, dg in session.execute(select(PlanVersion.id, PlanVersion.plan_id, PlanVersion.digest))}
    texts = {}
    for plan in plan_versions_of(catalog):
        path = Path(plan.source.file)
        if path not in texts:
            texts[path] = path.read_text(encoding="utf-8")
        vid = known.get((plan.id, plan.digest))
        if vid is None:
            row = PlanVersion(plan_id=plan.id, digest=plan.digest, file=str(path), text=texts[path], loaded_at=now)
            session.add(row)
            session.flush()
            vid = known[(plan.id, plan.digest)] = row.id
            report.plans_added.append(plan.id)
            audit(session, actor, "plan.version", f"plan {plan.id} version {plan.digest[:12]} from {path}",
                  entity="plan", entity_id=plan.id, at=now)
        line, change = schedule_plan(session, plan, vid, batch, now, locked_months, open_day)
        if line:
            report.forward.append(line)
            audit(session, actor, "plan.schedule", line, entity="plan", entity_id=plan.id, at=now)
        if change:
            reaching.append(change)
    session.flush()

    # reps: a change is a new version in force from the first open month (history.import_reps)
    added, rep_changes, rep_audits, locale_notes = import_reps(session, data.reps.values(), batch, now)
    report.notes += locale_notes  # how statements are written: noted, nothing made stale
    report.reps_added += added
    report.reps_changed += len(rep_changes)
    report.forward += rep_changes
    for a in rep_audits:
        audit(session, actor, "rep.update", a["summary"], rep_id=a["rep_id"], entity="rep", entity_id=a["rep_id"],
              before=a["before"], after=a["after"], at=now)
    if report.reps_added:
        audit(session, actor, "rep.add", f"{report.reps_added} rep(s) added from {data_dir}", entity="rep", at=now)
    session.flush()

    # assignments: rows replaced are superseded, not deleted; changes over locked months are deliberate
    changed_reps, reaching_a, assignment_audits = import_assignments(
        session, data.assignments, batch, now, locked_months, {p.id: p.annual_quota for p in plans.values()})
    reaching += reaching_a
    report.assignments_changed = len(changed_reps)
    for a in assignment_audits:
        audit(session, actor, "assignment.set", a["summary"], rep_id=a["rep_id"], entity="assignment",
              entity_id=a["rep_id"], before=a["before"], after=a["after"], at=now)
    # quotas per plan component (quotas.csv): the same history and locked-month rule as assignments
    quota_reps, reaching_q, quota_audits = import_quotas(
        session, [q for rows in data.quotas.values() for q in rows], batch, now, locked_months)
    reaching += reaching_q
    report.quotas_changed = len(quota_reps)
    # exchange rates (fx_rates.csv): history, a corrected rate supersedes the row it corrects
    fx_changes = import_fx_rates(session, data.fx, batch, now) if data.fx is not None else []
    if fx_changes:
        report.fx_rates_changed = [str(c) for c in fx_changes]
        audit(session, actor, "fx.import", f"{len(fx_changes)} exchange rate(s) added or corrected from {data_dir}",
              entity="fx_rates", entity_id=str(batch.id), after={"rates": report.fx_rates_changed[:100]}, at=now)
        late_fx = sorted({str(p) for c in fx_changes for p in locked_months if c.day <= p.end})
        if late_fx:
            report.notes.append(f"{len(fx_changes)} rate(s) recorded after months they may be in force in were locked "
                                f"({span([Period.parse(p) for p in late_fx])}): the next close reprices them and pays "
                                "the differences in the first open month")
    for a in quota_audits:
        audit(session, actor, "quota.set", a["summary"], rep_id=a["rep_id"], entity="quota", entity_id=a["rep_id"],
              before=a["before"], after=a["after"], at=now)
    if reaching and not retroactive:
        refuse(reaching)
    if retroactive:
        if reaching:
            record_retro(session, reaching, batch, actor, now)
            report.retroactive = [f"{c.description}: reprices {span(c.months)}" for c in reaching]
            audit(session, actor, "import.retroactive", f"{len(reaching)} retroactive change(s): "
                  + "; ".join(report.retroactive), entity="import", entity_id=str(batch.id), at=now)
        else:
            report.notes.append("--retroactive: nothing in this import reaches a locked month; imported as usual")

    # deals
    # every stored deal, to compare with the file's: amounts and costs as their stored thousandths (compared with the
    # file's, converted the same way: no Decimal per stored row), quantities through one Decimal per stored text; the
    # few types, currencies, days and owners a ledger repeats one object each (costs and attributes are mostly the
    # cached 0 and None, else mostly distinct: not kept in a dict)
    have: dict[str, tuple] = {}
    one = [{} for _ in range(4)]
    k_type, k_cur, k_close, k_owner = (c.setdefault for c in one)
    quantity_of: dict[str | None, Decimal | None] = {None: None}
    conn = session.connection()  # the rows as the cursor gives them, a batch at a time (the ORM's result held them all)
    for deal_id, deal_type, currency, close_date, owner_id, amount, cancelled_on, q_text, cost, attrs in conn.execute(
        select(DealRow.deal_id, DealRow.deal_type, DealRow.currency, DealRow.close_date, DealRow.owner_id,
               type_coerce(DealRow.amount, BigInteger), DealRow.cancelled_on, type_coerce(DealRow.quantity, String),
               type_coerce(DealRow.cost, BigInteger), DealRow.attrs)
    ):
        quantity = quantity_of.get(q_text)
        if quantity is None and q_text is not None:
            quantity = quantity_of[q_text] = Decimal(q_text)
        have[deal_id] = (k_type(deal_type, deal_type), k_cur(currency, currency), k_close(close_date, close_date),
                         k_owner(owner_id, owner_id), amount, cancelled_on, quantity, cost, attrs)
    del one, quantity_of
    active_splits: dict[str, set] = defaultdict(set)
    for deal_id, rep_id, pct, role in conn.execute(
        select(SplitRow.deal_id, SplitRow.rep_id, SplitRow.split_pct, SplitRow.role).where(SplitRow.superseded_at.is_(None))
    ):
        active_splits[deal_id].add((rep_id, pct, role))
    file_splits: dict[str, set] = defaultdict(set)
    for s in data.splits:
        file_splits[s.deal_id].add((s.rep_id, s.split_pct, s.role))

    errors: list[CompError] = []
    new_deals, events, new_splits = [], [], []
    amended: list[tuple[str, Decimal]] = []
    restated: list[tuple[str, Decimal, Decimal, str]] = []  # (deal, quantity, cost, attrs) of amended deals
    sourced: dict[str, str] = {}  # deal -> the file:line of its latest event, for deals.source
    cancelled: list[tuple[str, object]] = []
    resplit: list[str] = []
    earliest_touched: Period | None = None

    def touch(p: Period) -> None:
        nonlocal earliest_touched
        if earliest_touched is None or p < earliest_touched:
            earliest_touched = p

    # the rows to insert are kept until the end: a text many of them repeat is one str (880,000 deals of a month
    # held a "2026-01" and a quantity "1" each, and their file:line twice: about 200 MB of the million month's import)
    month_text: dict[Period, str] = {}
    last_quantity = last_cost = object()  # none yet
    last_text, last_stored_cost = "", 0
    for d in data.deals:
        src = d.source or Source("deals.csv")
        period = Period.of(d.close_date)
        old = have.get(d.deal_id)
        if ledger_start is not None and period < ledger_start:
            errors.append(CompError(src.at("close_date"), f"{d.close_date} is before the ledger's first month {ledger_start} "
                                    "(`compengine close start`): its credit belongs in the opening balances"))
            continue
        # most deals share the defaults' objects (quantity 1, cost 0, no attributes): each converted once
        if d.quantity is not last_quantity:
            last_quantity, last_text = d.quantity, canonical_text(d.quantity)
        if d.cost is not last_cost:
            last_cost, last_stored_cost = d.cost, stored_money(d.cost)
        quantity, cost, attrs = last_text, last_stored_cost, attrs_text(d.attrs) if d.attrs else ""
        if old is None:
            month = month_text.get(period)
            if month is None:
                month = month_text[period] = str(period)
            if month in locked:
                report.late.append(d.deal_id)  # a late deal: priced as of its locked month in the next close
            where, stored = str(src), stored_money(d.amount)  # one str and one int each, kept by both rows until stored
            new_deals.append((d.deal_id, d.account, d.deal_type, d.currency, d.close_date, month, d.owner_id,
                              d.term_months, d.product, stored, d.cancelled_on, quantity, cost, attrs, where))
            events.append((d.deal_id, "won", stored, d.close_date, now, batch.id, where, quantity, cost, attrs))
            if d.cancelled_on is not None:
                events.append((d.deal_id, "cancelled", None, d.cancelled_on, now, batch.id, where, None, None, None))
                report.cancellations += 1
            for rep_id, pct, role in sorted(file_splits.get(d.deal_id, ())):
                new_splits.append((d.deal_id, rep_id, f"{pct:f}", role, now))
            report.deals_added += 1
            touch(period)
            continue
        deal_type, currency, close_date, owner_id, old_amount, cancelled_on, old_quantity, old_cost, old_attrs = old
        changed_static = [
            (name, a, b) for name, a, b in (
                ("deal_type", deal_type, d.deal_type), ("currency", currency, d.currency),
                ("close_date", close_date, d.close_date), ("owner_id", owner_id, d.owner_id))
            if a != b
        ]
        for name, a, b in changed_static:
            errors.append(CompError(src.at(name), f"deal {d.deal_id} was imported with {name} {a}, now {b}: "
                                    "cancel it and book a new deal instead"))
        if changed_static:
            continue
        same = True
        restate = d.quantity != old_quantity or cost != old_cost or attrs != (old_attrs or "")
        amount = stored_money(d.amount)
        if amount != old_amount or restate:
            events.append((d.deal_id, "amended", amount, None, now, batch.id, str(src), quantity, cost, attrs))
            if amount != old_amount:
                amended.append((d.deal_id, d.amount))
            if restate:
                restated.append((d.deal_id, d.quantity, d.cost, attrs))
            report.amendments += 1
            same = False
        if d.cancelled_on != cancelled_on:
            if cancelled_on is not None:
                errors.append(CompError(src.at("cancelled_on"), f"deal {d.deal_id} was cancelled on {cancelled_on}; "
                                        "a cancellation cannot be changed or removed"))
                continue
            events.append((d.deal_id, "cancelled", None, d.cancelled_on, now, batch.id, str(src), None, None, None))
            cancelled.append((d.deal_id, d.cancelled_on))
            report.cancellations += 1
            same = False
        if file_splits.get(d.deal_id, set()) != active_splits.get(d.deal_id, set()):
            events.append((d.deal_id, "splits_changed", None, None, now, batch.id, str(src), None, None, None))
            resplit.append(d.deal_id)
            for rep_id, pct, role in sorted(file_splits.get(d.deal_id, ())):
                new_splits.append((d.deal_id, rep_id, f"{pct:f}", role, now))
            report.splits_changed += 1
            same = False
        if same:
            report.deals_unchanged += 1
        else:
            sourced[d.deal_id] = str(src)
            if str(period) in locked:
                report.late.append(d.deal_id)
            touch(period)
            if d.cancelled_on is not None:
                touch(Period.of(d.cancelled_on))
    if errors:
        raise CompErrors(errors)

    if new_deals:
        bulk_insert(session, "deals", ["deal_id", "account", "deal_type", "currency", "close_date", "close_period",
                                       "owner_id", "term_months", "product", "amount", "cancelled_on", "quantity", "cost",
                                       "attrs", "source"], new_deals)
    if events:
        bulk_insert(session, "deal_events", ["deal_id", "kind", "amount", "effective", "recorded_at", "batch_id", "source",
                                             "quantity", "cost", "attrs"], events)
    if resplit:
        for chunk in _chunks(resplit, 500):
            session.execute(update(SplitRow).where(SplitRow.deal_id.in_(chunk), SplitRow.superseded_at.is_(None))
                            .values(superseded_at=now))
    if new_splits:
        bulk_insert(session, "splits", ["deal_id", "rep_id", "split_pct", "role", "recorded_at"], new_splits)
    for deal_id, amount in amended:
        session.execute(update(DealRow).where(DealRow.deal_id == deal_id).values(amount=amount))
    for deal_id, when in cancelled:
        session.execute(update(DealRow).where(DealRow.deal_id == deal_id).values(cancelled_on=when))
    for deal_id, quantity, cost, attrs in restated:
        session.execute(update(DealRow).where(DealRow.deal_id == deal_id)
                        .values(quantity=quantity, cost=cost, attrs=attrs))
    for deal_id, src in sourced.items():
        session.execute(update(DealRow).where(DealRow.deal_id == deal_id).values(source=src))
    if report.deals_added or report.amendments or report.cancellations or report.splits_changed:
        audit(session, actor, "deals.import",
              f"{report.deals_added} new, {report.amendments} amended, {report.cancellations} cancelled, "
              f"{report.splits_changed} re-split from {data_dir}", entity="import", entity_id=str(batch.id),
              after={"amended": amended[:100], "cancelled": cancelled[:100], "resplit": resplit[:100],
                     "restated": [r[0] for r in restated[:100]]}, at=now)

    # periods covered by the data exist from now on
    periods = {Period.of(a.start) for a in data.assignments} | {Period.of(d.close_date) for d in data.deals}
    if ledger_start is not None:  # months before the ledger's first are never required, so never created
        periods = {max(p, ledger_start) for p in periods}
    if periods:
        for p in min(periods).months_through(max(periods)):
            ensure_period(session, p)
    if report.changed:
        first = min(periods) if periods else None
        if (report.assignments_changed or report.quotas_changed or report.reps_changed or report.reps_added
                or report.plans_added or report.forward):
            start = first
        else:
            start = earliest_touched
        if fx_changes:
            fx_start = Period.of(min(c.day for c in fx_changes))
            start = fx_start if start is None else min(start, fx_start)
        if start is not None:
            report.invalidated = invalidate_from(session, start, actor, "new data imported")
    batch.summary = report.text()
    if not report.changed:
        session.delete(batch)
    return report


RULE_SOURCE_TAIL = len(":123456 @12345678")  # what Plan.rule_source adds to the plan file's path


def column_limits(model: type[Base]) -> dict[str, int]:
    """The length of every limited text column of a table (``String(n)``), by column name."""
    return {c.name: c.type.length for c in model.__table__.columns if isinstance(c.type, String) and c.type.length}


def check_lengths(data, plans, data_dir: Path | str, actor: str) -> list[CompError]:  # noqa: ANN001
    """Text longer than the column it is stored in, as ``file:line: field`` errors.

    PostgreSQL refuses such text and SQLite keeps it; both refuse it here, before anything
    is written. The limits are the models' ``String(n)`` lengths.
    """
    errors: list[CompError] = []
    quotas = [q for rows in getattr(data, "quotas", {}).values() for q in rows]
    for model, records in ((RepRow, data.reps.values()), (AssignmentRow, data.assignments), (DealRow, data.deals),
                           (SplitRow, data.splits), (QuotaRow, quotas)):
        limits = column_limits(model)
        for rec in records:
            for name, limit in limits.items():
                value = getattr(rec, name, None)
                if isinstance(value, str) and len(value) > limit:
                    src = rec.source or Source(f"{model.__tablename__}.csv")
                    errors.append(CompError(src.at(name), f"is {len(value):,} characters long, at most {limit} fit"))
    plan_limits = column_limits(PlanVersion)
    for plan in plans.values():
        if len(plan.id) > plan_limits["plan_id"]:
            errors.append(CompError(plan.source.at("id"), f"is {len(plan.id):,} characters long, at most "
                                                          f"{plan_limits['plan_id']} fit"))
        # payout lines name the plan file, a line and the version of their rule (Plan.rule_source)
        path_limit = min(plan_limits["file"], column_limits(PayoutLineRow)["rule_source"] - RULE_SOURCE_TAIL)
        if len(plan.source.file) > path_limit:
            errors.append(CompError(Source(plan.source.file), f"the path is {len(plan.source.file):,} characters long, "
                                                              f"at most {path_limit} fit in the ledger"))
    # the ledger records where each deal came from (file:line) and the folder of the import
    longest = max([len(str(data_dir)), *(len(str(d.source)) for d in data.deals if d.source)])
    limit = min(column_limits(DealEvent)["source"], column_limits(ImportBatch)["source"])
    if longest > limit:
        errors.append(CompError(Source(str(data_dir)), f"the path is too long to record in the ledger ({longest:,} "
                                                       f"characters with a file name and line, at most {limit})"))
    actor_limit = min(column_limits(AuditRow)["actor"], column_limits(ImportBatch)["actor"])
    if len(actor) > actor_limit:
        errors.append(CompError(None, f"the actor name (--as) is {len(actor):,} characters long, at most {actor_limit} fit"))
    return errors


def _chunks(items: list[str], size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
