"""``compengine accounting``: the month's ASC 340-40 journal for commissions, read from the ledger.

Rules (docs/finance.md, "Accounting"):

* **Capitalized**: each commission line with a deal (kind ``commission``, ``deal_id`` set) is an
  incremental cost of obtaining that contract. The lines of one rep on one deal in one month
  make one schedule of amount ``A``.
* **Period of benefit** ``N`` months: the deal's ``term_months`` (config ``basis: term``), or
  ``term_months + expected_renewal_months`` (``basis: term_plus_renewals``); a deal without a
  term uses ``default_term_months``. ``N`` must be positive: otherwise the command is refused,
  naming the deal.
* **Practical expedient**: when ``N <= 12`` (and ``practical_expedient: true``, the default)
  the commission is expensed in the month it is paid.
* **Amortization**: otherwise ``A`` is capitalized in the month it is paid (the deal's close
  month) and amortized straight-line over ``N`` months starting that month. The monthly amount
  is ``A / N`` rounded once, toward zero, to the cent (``ROUND_DOWN``: the named boundary of a
  schedule); the last month takes the remainder ``A - (N - 1) x monthly``, so the balance
  reaches exactly zero and never crosses it. 3,600.00 over 36 months: 100.00 a month.
* **Clawback**: when a clawback line reverses commission on a capitalized deal in month ``C``,
  the schedule stops: no amortization in ``C`` or later; the unamortized asset (the balance after
  month ``C - 1``) is reversed (credit the asset) and the expense already taken (``A`` minus that
  balance: the amortization so far) is reversed (credit expense); both are debited to commissions
  payable, as the clawback reduced the payout. Clawed SPIFFs and overrides, and commission that
  was expensed (expedient, or paid before the ledger), reverse expense.
* **Everything else** on the payout (true-ups, SPIFFs, overrides, cap, draws and recoveries,
  adjustments, carry-forward) is expense as incurred.

Tie-out: ``capitalized + expensed - asset_reversed`` must equal the month's payout as stored
(``rep_periods``); the report says so and the command exits 1 when it does not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import CENT, CONTEXT, ZERO, shown
from compengine.core.periods import Period
from compengine.engine.pipeline import gc_paused
from compengine.ledger.models import DealRow, PayoutLineRow, PeriodRow, RepPeriod, RepRow

BASES = ("term", "term_plus_renewals")


@dataclass(frozen=True)
class AccountingConfig:
    basis: str = "term"
    expected_renewal_months: int = 0
    default_term_months: int = 12
    practical_expedient: bool = True
    expedient_max_months: int = 12
    source: str = "(defaults)"

    def months(self, term: int | None) -> int:
        n = self.default_term_months if term is None else term
        if self.basis == "term_plus_renewals":
            n += self.expected_renewal_months
        return n


def load_config(path: Path | str | None) -> AccountingConfig:
    """Read the accounting config (YAML). Unknown keys and bad values are errors naming the file and key."""
    if path is None:
        return AccountingConfig()
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CompErrors(CompError(Source(str(path)), f"cannot read the accounting config: {str(exc).splitlines()[0]}")) from None
    if not isinstance(data, dict):
        raise CompErrors(CompError(Source(str(path)), "the accounting config must be a mapping of keys"))
    errors = []
    known = {"basis", "expected_renewal_months", "default_term_months", "practical_expedient", "expedient_max_months"}
    for k in sorted(set(data) - known):
        errors.append(CompError(Source(str(path), None, str(k)), f"unknown key (known: {', '.join(sorted(known))})"))
    out = {}
    if "basis" in data:
        if data["basis"] not in BASES:
            errors.append(CompError(Source(str(path), None, "basis"), f"must be one of {', '.join(BASES)}"))
        out["basis"] = data["basis"]
    for k in ("expected_renewal_months", "default_term_months", "expedient_max_months"):
        if k in data:
            v = data[k]
            if not isinstance(v, int) or isinstance(v, bool):
                errors.append(CompError(Source(str(path), None, k), "must be a whole number of months"))
            elif k == "default_term_months" and v <= 0:
                errors.append(CompError(Source(str(path), None, k), f"must be positive, not {v}: a period of benefit "
                                        "is at least one month"))
            elif v < 0:
                errors.append(CompError(Source(str(path), None, k), f"must not be negative, not {v}"))
            out[k] = v
    if "practical_expedient" in data:
        if not isinstance(data["practical_expedient"], bool):
            errors.append(CompError(Source(str(path), None, "practical_expedient"), "must be true or false"))
        out["practical_expedient"] = data["practical_expedient"]
    if errors:
        raise CompErrors(errors)
    return AccountingConfig(**out, source=str(path))


def schedule(amount: Decimal, months: int) -> list[Decimal]:
    """Straight-line amounts over ``months``: ``amount / months`` rounded toward zero to the cent
    (the one rounding of the schedule), the remainder in the last month. Sums to ``amount``."""
    per = schedule_step(amount, months)
    return [per] * (months - 1) + [amount - per * (months - 1)]


def schedule_step(amount: Decimal, months: int) -> Decimal:
    """The monthly amount of a schedule (all months but the last): ``amount / months`` toward zero, to the cent."""
    if months <= 0:
        raise ValueError(f"a period of benefit must be positive, not {months}")
    return CONTEXT.divide(amount, Decimal(months)).quantize(CENT, rounding=ROUND_DOWN, context=CONTEXT)


@dataclass
class Schedule:
    rep_id: str
    deal_id: str
    start: str  # month paid (the deal's close month)
    amount: Decimal
    months: int
    capitalized: bool  # False: expensed under the practical expedient
    clawed_in: str | None = None

    def amortized_through(self, p: Period) -> Decimal:
        """Amortization recognized in months up to and including ``p`` (stops at a clawback)."""
        start = Period.parse(self.start)
        stop = Period.parse(self.clawed_in).index - 1 if self.clawed_in else 10**9
        last = min(p.index, stop, start.index + self.months - 1)
        if not self.capitalized or last < start.index:
            return ZERO
        k = last - start.index + 1  # months amortized
        if k >= self.months:
            return self.amount
        return schedule_step(self.amount, self.months) * k

    def amortization_in(self, p: Period) -> Decimal:
        return self.amortized_through(p) - self.amortized_through(p.prev())

    def balance_after(self, p: Period) -> Decimal:
        if not self.capitalized or Period.parse(self.start) > p:
            return ZERO
        if self.clawed_in and Period.parse(self.clawed_in) <= p:
            return ZERO
        return self.amount - self.amortized_through(p)


@dataclass
class Journal:
    period: str
    currency: str
    config: AccountingConfig
    payout: Decimal
    capitalized: Decimal = ZERO
    expensed: Decimal = ZERO  # expense as incurred, net of clawed-back expense
    amortization: Decimal = ZERO
    asset_reversed: Decimal = ZERO  # unamortized asset reversed by clawbacks in the month
    expense_reversed: Decimal = ZERO  # part of ``expensed``: expense already taken, reversed by clawbacks
    asset_opening: Decimal = ZERO
    asset_balance: Decimal = ZERO
    by_rep: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    by_deal: list[dict] = field(default_factory=list)
    rep_names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def journal_total(self) -> Decimal:
        return self.capitalized + self.expensed - self.asset_reversed

    @property
    def ties_out(self) -> bool:
        roll = self.asset_opening + self.capitalized - self.amortization - self.asset_reversed
        return self.journal_total == self.payout and roll == self.asset_balance

    def entries(self) -> list[tuple[str, str, Decimal, Decimal]]:
        """(account, memo, debit, credit) rows of the month's journal."""
        rows = []

        def dr_cr(account_dr: str, account_cr: str, memo: str, amount: Decimal) -> None:
            if amount == 0:
                return
            if amount < 0:
                account_dr, account_cr, amount = account_cr, account_dr, -amount
            rows.append((account_dr, memo, amount, ZERO))
            rows.append((account_cr, memo, ZERO, amount))

        dr_cr("Capitalized contract costs (asset)", "Commissions payable", "commissions capitalized (ASC 340-40)", self.capitalized)
        dr_cr("Commission expense", "Commissions payable", "commissions and other payout expensed as incurred",
              self.expensed - self.expense_reversed)
        dr_cr("Commissions payable", "Commission expense", "clawbacks: expense already taken reversed", -self.expense_reversed)
        dr_cr("Commissions payable", "Capitalized contract costs (asset)", "clawbacks: unamortized asset reversed",
              self.asset_reversed)
        dr_cr("Amortization of contract costs (expense)", "Capitalized contract costs (asset)",
              "straight-line amortization", self.amortization)
        return rows

    def as_dict(self) -> dict:
        c = self.config
        return {
            "report": "accounting",
            "period": self.period,
            "currency": self.currency,
            "capitalized": _s(self.capitalized),
            "expensed": _s(self.expensed),
            "amortization": _s(self.amortization),
            "asset_balance": _s(self.asset_balance),
            "asset_opening": _s(self.asset_opening),
            "asset_reversed": _s(self.asset_reversed),
            "expense_reversed": _s(self.expense_reversed),
            "payout": _s(self.payout),
            "tie_out": {"ok": self.ties_out, "payout": _s(self.payout), "journal": _s(self.journal_total),
                        "asset_rollforward": _s(self.asset_opening + self.capitalized - self.amortization - self.asset_reversed)},
            "config": {"basis": c.basis, "expected_renewal_months": c.expected_renewal_months,
                       "default_term_months": c.default_term_months, "practical_expedient": c.practical_expedient,
                       "expedient_max_months": c.expedient_max_months, "source": c.source},
            "by_rep": {r: {k: _s(v) for k, v in d.items()} for r, d in sorted(self.by_rep.items())},
            "by_deal": [{k: (_s(v) if isinstance(v, Decimal) else v) for k, v in d.items()} for d in self.by_deal],
            "entries": [{"account": a, "memo": m, "debit": _s(d), "credit": _s(cr)} for a, m, d, cr in self.entries()],
            "notes": list(self.notes),
        }

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        d = self.as_dict()
        return [
            ("Journal", ["account", "memo", "debit", "credit"],
             [[e["account"], e["memo"], e["debit"], e["credit"]] for e in d["entries"]]),
            ("Summary", ["figure", "amount"],
             [[k, d[k]] for k in ("capitalized", "expensed", "amortization", "asset_reversed", "asset_opening",
                                   "asset_balance", "payout")] + [["ties out", "yes" if self.ties_out else "NO"]]),
            ("By rep", ["rep_id", "name", *REP_FIGURES],
             [[r, self.rep_names.get(r, ""), *(v[k] for k in REP_FIGURES)] for r, v in d["by_rep"].items()]),
            ("By deal", list(DEAL_FIGURES), [[str(row[k]) if row[k] is not None else "" for k in DEAL_FIGURES]
                                             for row in d["by_deal"]]),
        ]

    def text(self) -> str:
        lines = [f"ASC 340-40 journal {self.period} ({self.currency}); period of benefit: {self.config.basis}"
                 + (f" + {self.config.expected_renewal_months} months" if self.config.basis == "term_plus_renewals" else "")
                 + ("; practical expedient at <= 12 months" if self.config.practical_expedient else "")]
        w = max(len(a) for a, *_ in self.entries()) if self.entries() else 10
        for account, memo, dr, cr in self.entries():
            lines.append(f"  {account:<{w}}  {_m(dr):>14}  {_m(cr):>14}  {memo}")
        lines.append(f"  capitalized {shown(self.capitalized)}, expensed {shown(self.expensed)}, amortization "
                     f"{shown(self.amortization)}, asset reversed {shown(self.asset_reversed)}; asset balance "
                     f"{shown(self.asset_opening)} -> {shown(self.asset_balance)}")
        verdict = "ties out" if self.ties_out else "DOES NOT tie out"
        lines.append(f"  payout {shown(self.payout)} = capitalized + expensed - asset reversed {shown(self.journal_total)}: {verdict}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines) + "\n"


REP_FIGURES = ("capitalized", "expensed", "amortization", "asset_reversed", "asset_balance")
DEAL_FIGURES = ("deal_id", "rep_id", "start", "months", "amount", "treatment", "amortization", "asset_reversed",
                "asset_balance")


@gc_paused()  # a schedule per (rep, deal, month paid), no cycles: the collector would rescan them all
def journal(session: Session, period: Period, config: AccountingConfig | None = None) -> Journal:
    """The month's ASC 340-40 journal from the stored payout lines (read-only)."""
    config = config or AccountingConfig()
    pstr = str(period)
    status = session.scalar(select(PeriodRow.status).where(PeriodRow.period == pstr))
    if status not in ("calculated", "locked"):
        raise CompErrors(f"period {period} has not been calculated (status {status or 'open'}): "
                         f"run `compengine close run {period}` first")
    currencies = set(session.scalars(select(RepPeriod.currency).where(RepPeriod.period == pstr).distinct()))
    if len(currencies) > 1:
        raise CompErrors(f"{period} pays in several currencies ({', '.join(sorted(currencies))}): "
                         "the journal is kept in one currency")
    payout = session.scalar(select(func.sum(RepPeriod.payout)).where(RepPeriod.period == pstr)) or ZERO

    # schedules: commission lines with a deal, one per (rep, deal, month paid), months up to this one
    rows = session.execute(
        select(PayoutLineRow.period, PayoutLineRow.rep_id, PayoutLineRow.deal_id, func.sum(PayoutLineRow.amount),
               DealRow.term_months)
        .join(DealRow, DealRow.deal_id == PayoutLineRow.deal_id)
        .where(PayoutLineRow.kind == "commission", PayoutLineRow.deal_id.is_not(None), PayoutLineRow.period <= pstr)
        .group_by(PayoutLineRow.period, PayoutLineRow.rep_id, PayoutLineRow.deal_id, DealRow.term_months)
    ).all()
    errors = []
    schedules: dict[tuple[str, str], list[Schedule]] = defaultdict(list)
    for paid_in, rep_id, deal_id, amount, term in rows:
        n = config.months(term)
        if n <= 0:
            errors.append(CompError(Source("deals", None, "term_months"),
                                    f"deal {deal_id}: period of benefit {n} month(s) (term {term}): must be positive"))
            continue
        expedient = config.practical_expedient and n <= config.expedient_max_months
        schedules[(rep_id, deal_id)].append(Schedule(rep_id, deal_id, paid_in, amount, n, not expedient))
    if errors:
        raise CompErrors(errors, headline=f"{len(errors)} deal(s) with a non-positive period of benefit (listed above); "
                                          "fix term_months or the accounting config")
    # clawbacks up to this month stop schedules
    claws = session.execute(
        select(PayoutLineRow.period, PayoutLineRow.rep_id, PayoutLineRow.deal_id, func.sum(PayoutLineRow.amount))
        .where(PayoutLineRow.kind == "clawback", PayoutLineRow.deal_id.is_not(None), PayoutLineRow.period <= pstr)
        .group_by(PayoutLineRow.period, PayoutLineRow.rep_id, PayoutLineRow.deal_id)
    ).all()
    j = Journal(pstr, currencies.pop() if currencies else "", config, payout)
    j.rep_names = dict(session.execute(select(RepRow.rep_id, RepRow.name)).all())
    this_claws: dict[tuple[str, str], Decimal] = {}
    for claw_period, rep_id, deal_id, amount in claws:
        for s in schedules.get((rep_id, deal_id), []):
            if s.start < claw_period and s.clawed_in is None:
                s.clawed_in = claw_period
        if claw_period == pstr:
            this_claws[(rep_id, deal_id)] = this_claws.get((rep_id, deal_id), ZERO) + amount

    by_rep: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(REP_FIGURES, ZERO))
    prev = period.prev()
    for (rep_id, deal_id), ss in sorted(schedules.items()):
        for s in ss:
            amort = s.amortization_in(period)
            bal = s.balance_after(period)
            opening = s.balance_after(prev)
            reversed_ = opening if s.clawed_in == pstr else ZERO
            cap = s.amount if s.capitalized and s.start == pstr else ZERO
            if s.start == pstr and not s.capitalized:
                j.expensed += s.amount
                by_rep[rep_id]["expensed"] += s.amount
            j.capitalized += cap
            j.amortization += amort
            j.asset_opening += opening
            j.asset_balance += bal
            j.asset_reversed += reversed_
            r = by_rep[rep_id]
            r["capitalized"] += cap
            r["amortization"] += amort
            r["asset_reversed"] += reversed_
            r["asset_balance"] += bal
            if cap or amort or reversed_ or (s.start == pstr):
                j.by_deal.append({"deal_id": deal_id, "rep_id": rep_id, "start": s.start, "months": s.months,
                                  "amount": s.amount, "treatment": "capitalized" if s.capitalized else "expensed (expedient)",
                                  "amortization": amort, "asset_reversed": reversed_, "asset_balance": bal})
    # every other line of the month is expense as incurred; a clawback's asset part is not expense
    for rep_id, kind, deal_id, amount in session.execute(
        select(PayoutLineRow.rep_id, PayoutLineRow.kind, PayoutLineRow.deal_id, func.sum(PayoutLineRow.amount))
        .where(PayoutLineRow.period == pstr).group_by(PayoutLineRow.rep_id, PayoutLineRow.kind, PayoutLineRow.deal_id)
    ):
        if kind == "commission" and deal_id is not None:
            continue  # scheduled above
        if kind == "clawback" and deal_id is not None:
            reversed_ = sum((s.balance_after(prev) for s in schedules.get((rep_id, deal_id), []) if s.clawed_in == pstr), ZERO)
            expense = amount + reversed_  # the clawback (negative) less the asset it reverses
            j.expense_reversed += expense
            j.expensed += expense
            by_rep[rep_id]["expensed"] += expense
            continue
        j.expensed += amount
        by_rep[rep_id]["expensed"] += amount
    j.by_rep = dict(by_rep)
    j.by_deal.sort(key=lambda d: (d["deal_id"], d["rep_id"], d["start"]))
    if not j.ties_out:
        j.notes.append(f"the journal ({_m(j.journal_total)}) does not tie out to the month's payout ({_m(j.payout)})")
    return j


def view(data: dict) -> dict:
    return {"title": "ASC 340-40 commission journal", "subtitle": f"{data['period']} · {data['currency']}",
            "verdict": "Ties out" if data["tie_out"]["ok"] else "Does not tie out", "verdict_ok": data["tie_out"]["ok"],
            "cards": [(k.replace("_", " ").capitalize(), shown(Decimal(data[k])))
                      for k in ("capitalized", "expensed", "amortization", "asset_balance", "payout")]}


def _s(x: Decimal) -> str:
    return f"{x:.2f}"


def _m(x: Decimal) -> str:
    return shown(x) if x else ""
