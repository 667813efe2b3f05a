"""Generate a realistic, seeded company as a data folder, and later versions of it.

Inputs: a seed and sizes (reps, deals, year, months) and, optionally, a folder of
plan files holding the example plans ``ae-2026``, ``am-2026``, ``se-2026`` and
``mgr-2026`` (their annual quotas size the deals). Outputs: ``reps.csv``,
``assignments.csv``, ``deals.csv`` and ``splits.csv`` in the formats read by
:mod:`compengine.datafiles`, written row by row (a million deals never sit in
memory), plus a copy of the plan files in ``OUT_DIR/plans``.

The company: sales teams of about nine account executives (``ae-2026``) and
account managers (``am-2026``) under a manager (``mgr-2026``), plus sales
engineers (``se-2026``) in overlay teams with their own manager. Hire dates are
staggered, so some reps ramp (a few are hired during the year) and a few leave.
Each rep has a performance factor; deals are drawn in proportion to each rep's
quota, performance and ramp, so attainment spreads across the bands (some reps
under 50%, some over 150%). Deal sizes are lognormal per deal type (new logos
mostly from AEs, expansions and renewals mostly from AMs), scaled so the average
rep lands near quota. Some new-logo deals are split between two or three AEs
(primary percentages such as 33.33/66.67, always summing to exactly 100), a share
of them carries an SE overlay, and a few are cancelled some days after close,
inside and outside the 60- and 90-day clawback windows.

:func:`amend` writes a later version of a data folder: changed amounts and late
cancellations on deals of earlier months, for testing re-imports.

Only the standard library: one ``random.Random(seed)``, no clock, no global
state, so the same arguments give byte-identical files.
"""

from __future__ import annotations

import bisect
import calendar
import csv
import math
import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from compengine.core.currency import minor_units
from compengine.core.outputs import SafeWriter

AE, AM, SE, MGR = "ae-2026", "am-2026", "se-2026", "mgr-2026"
PLAN_IDS = (AE, AM, SE, MGR)
# Annual quotas of the example plans, used when no plan folder is given.
DEFAULT_QUOTAS = {AE: Decimal(1200000), AM: Decimal(2400000), SE: Decimal(3000000), MGR: Decimal(600000)}
CURRENCY = "USD"
DOMAIN = "example.com"
# --currencies: what one unit of each currency was worth in USD at the start of 2026 (rounded
# public reference rates); each month's rate walks from it by up to a few percent (seeded)
REFERENCE_USD = {"USD": Decimal(1), "EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "JPY": Decimal("0.0067"),
                 "CHF": Decimal("1.12"), "CAD": Decimal("0.73"), "AUD": Decimal("0.66"), "SEK": Decimal("0.095"),
                 "INR": Decimal("0.012"), "BRL": Decimal("0.20"), "KWD": Decimal("3.25"), "SGD": Decimal("0.74")}
FOREIGN_SHARE = 0.3  # share of deals booked in another currency than USD when --currencies names others
PAID_IN_OTHER = 0.15  # share of AEs paid in the second currency named (a copy of the AE plan in it)

TEAM_SIZE = 10  # a manager and about nine members
SE_SHARE = 0.10  # share of all reps in the SE overlay teams (their managers included)
AE_SHARE = 0.6  # share of AEs among a sales team's members (the rest are AMs)

# Deal sizes: lognormal per type, relative to a scale fitted to the quotas.
SIZE = {"new_logo": (0.0, 0.8), "expansion": (math.log(0.4), 0.7), "renewal": (math.log(0.7), 0.45)}
TYPES = ("new_logo", "expansion", "renewal")
MIX = {  # deal-type mix by seller plan
    AE: (0.85, 0.12, 0.03),
    AM: (0.05, 0.45, 0.50),
    MGR: (0.70, 0.20, 0.10),
}
TERMS = (12, 24, 36)
TERM_WEIGHTS = {"new_logo": (55, 25, 20), "expansion": (70, 20, 10), "renewal": (60, 25, 15)}
PRODUCTS = {
    "new_logo": ("Platform", "Platform", "Platform", "Analytics Suite", "Data Cloud"),
    "expansion": ("Add-on", "Seats", "Analytics Suite", "Premium Support"),
    "renewal": ("Platform", "Platform", "Support"),
}
# Selling capacity by tenure month (1 = month of hire): new hires sell nothing at first.
RAMP_CAPACITY = ((1, 1, 0.0), (2, 3, 0.15), (4, 6, 0.45), (7, 9, 0.75))
# Quarter-end months sell more; the factors average 1.
MONTH_FACTOR = (0.85, 0.95, 1.20)
PERF_SIGMA = 0.45
SPLIT_RATE = 0.08  # share of AE new-logo deals split with teammates
SPLITS_2 = (
    ("50", "50"), ("60", "40"), ("70", "30"), ("75", "25"), ("80", "20"), ("55", "45"),
    ("66.67", "33.33"), ("33.33", "66.67"), ("62.5", "37.5"), ("87.5", "12.5"),
)
SPLITS_3 = (("33.34", "33.33", "33.33"), ("50", "25", "25"), ("40", "30", "30"), ("33.33", "33.33", "33.34"))
CANCEL_RATE = 0.02
QUOTA_OVERRIDE_RATE = 0.2
QUOTA_FACTORS = ("0.75", "0.85", "1.15", "1.25", "1.5")
LEAVER_RATE = 0.03

for _split in SPLITS_2 + SPLITS_3:  # primary splits must sum to exactly 100
    assert sum(Decimal(p) for p in _split) == 100, _split

FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Dev", "Elena", "Felix", "Grace", "Hiro", "Ines", "Jonas", "Kara", "Liam", "Maya",
    "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wes", "Xena", "Yusuf", "Zoe",
    "Aaron", "Bianca", "Carlos", "Dana", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Julia", "Kofi", "Lena",
    "Marco", "Nadia", "Omar", "Paula", "Rahul", "Sofia", "Tomas", "Uma", "Victor", "Wen", "Yara", "Zane",
)
LAST_NAMES = (
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Khan", "Lopez",
    "Martin", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber",
    "Xu", "Young", "Zhang", "Ahmed", "Berg", "Costa", "Dubois", "Eriksen", "Ferreira", "Gupta", "Haddad",
    "Ibrahim", "Johansson", "Kowalski", "Larsen", "Moreau", "Novak", "Oliveira", "Park", "Reyes", "Schmidt",
    "Torres", "Usman", "Vogel", "Walsh", "Yilmaz", "Zimmer",
)
REGIONS = (
    "West", "East", "Central", "North", "South", "EMEA", "APAC", "LATAM", "Federal", "Mid-Market", "Enterprise",
    "Commercial",
)
ACCOUNT_HEADS = (
    "Blue", "Red", "Green", "North", "South", "Iron", "Silver", "Golden", "Bright", "Quick", "Clear", "Deep",
    "High", "Swift", "Stone", "River", "Cedar", "Maple", "Harbor", "Summit", "Pioneer", "Atlas", "Nova", "Orbit",
    "Pixel", "Vector", "Lumen", "Cobalt", "Granite", "Falcon", "Beacon", "Crescent", "Meridian", "Polar",
    "Sterling", "Vertex", "Zephyr", "Apex", "Copper", "Willow",
)
ACCOUNT_TAILS = (
    "wave", "field", "gate", "stone", "bridge", "point", "works", "line", "path", "star", "leaf", "peak", "hill",
    "forge", "light", "mark", "port", "ridge", "view", "wood",
)
ACCOUNT_KINDS = (
    "Inc", "Labs", "Group", "Systems", "Health", "Logistics", "Foods", "Energy", "Capital", "Retail", "Media",
    "Robotics", "Bank", "Insurance", "Motors", "Pharma",
)


@dataclass(slots=True)
class _Rep:
    rep_id: str
    name: str
    email: str
    manager_id: str
    team: str
    hire: date
    plan_id: str
    start: date
    end: date | None
    quota_override: Decimal | None
    perf: float
    pay_plan: str | None = None  # the plan the rep is assigned (None: plan_id); --currencies: the AE plan's copy

    def annual_quota(self, quotas: dict[str, Decimal]) -> float:
        return float(self.quota_override if self.quota_override is not None else quotas[self.plan_id])


@dataclass(frozen=True, slots=True)
class GenerateSummary:
    """What :func:`generate` wrote."""

    out_dir: Path
    reps: int
    teams: int
    deals: int
    split_rows: int
    credit_lines: int  # credits the engine makes from the deals: one per receiver per deal
    cancelled: int
    year: int
    months: int
    seed: int | str

    def __str__(self) -> str:
        return (
            f"{self.reps} reps in {self.teams} teams, {self.deals} deals, {self.split_rows} split rows, "
            f"{self.credit_lines} credit lines, {self.cancelled} cancelled; {self.year}-01 to {self.year}-{self.months:02d}; "
            f"seed {self.seed}; written to {self.out_dir}"
        )


@dataclass(frozen=True, slots=True)
class AmendSummary:
    """What :func:`amend` changed."""

    out_dir: Path
    deals: int
    amended: int
    cancelled: int
    as_of: date

    def __str__(self) -> str:
        return f"{self.amended} amended and {self.cancelled} newly cancelled of {self.deals} deals (as of {self.as_of}); written to {self.out_dir}"


# --------------------------------------------------------------------------- helpers


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _rand_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _account_name(i: int) -> str:
    """A company name for account number ``i``: distinct numbers give distinct names."""
    combos = len(ACCOUNT_HEADS) * len(ACCOUNT_TAILS) * len(ACCOUNT_KINDS)
    j = (i % combos) * 2654435761 % combos  # a fixed permutation (odd, not a multiple of 5): names look mixed
    h = ACCOUNT_HEADS[j % len(ACCOUNT_HEADS)]
    rest = j // len(ACCOUNT_HEADS)
    t = ACCOUNT_TAILS[rest % len(ACCOUNT_TAILS)]
    rest //= len(ACCOUNT_TAILS)
    k = ACCOUNT_KINDS[rest % len(ACCOUNT_KINDS)]
    n = i // combos
    return f"{h}{t} {k}" + (f" {n + 1}" if n else "")


def _ramp_capacity(tenure: int) -> float:
    if tenure < 1:
        return 0.0
    for first, last, cap in RAMP_CAPACITY:
        if first <= tenure <= last:
            return cap
    return 1.0


def _lognorm_mean(mu: float, sigma: float) -> float:
    return math.exp(mu + sigma * sigma / 2)


def plan_quotas(plans_dir: Path | str | None) -> dict[str, Decimal]:
    """Annual quotas of the four example plans, read from a plan folder (or the defaults)."""
    if plans_dir is None:
        return dict(DEFAULT_QUOTAS)
    from compengine.core.errors import CompErrors
    from compengine.plans import load_plans

    plans, errors = load_plans(plans_dir)
    if errors:
        raise CompErrors(errors)
    missing = [p for p in PLAN_IDS if p not in plans]
    if missing:
        raise CompErrors(f"{plans_dir}: the generator needs the example plans {', '.join(PLAN_IDS)}; missing {', '.join(missing)}")
    return {p: plans[p].annual_quota for p in PLAN_IDS}


# --------------------------------------------------------------------------- the company


def _split_evenly(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _build_reps(
    rng: random.Random, n_reps: int, year: int, months: int, quotas: dict[str, Decimal]
) -> tuple[list[_Rep], int]:
    """The people: managers first within each team. Returns the reps and the number of teams."""
    n_se_all = max(2, round(n_reps * SE_SHARE))
    n_sales_all = n_reps - n_se_all
    if n_sales_all < 3:
        raise ValueError(f"need at least 5 reps for a sales team and an SE team, got {n_reps}")
    n_sales_teams = max(1, round(n_sales_all / TEAM_SIZE))
    n_se_teams = max(1, round(n_se_all / TEAM_SIZE))
    width = max(3, len(str(n_reps)))
    counters = {AE: 0, AM: 0, SE: 0, MGR: 0}
    prefix = {AE: "AE", AM: "AM", SE: "SE", MGR: "MGR"}
    used_emails: set[str] = set()
    reps: list[_Rep] = []
    year_start = date(year, 1, 1)

    def new_id(plan_id: str) -> str:
        counters[plan_id] += 1
        return f"{prefix[plan_id]}{counters[plan_id]:0{width}d}"

    def person() -> tuple[str, str]:
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        email = f"{local}@{DOMAIN}"
        n = 1
        while email in used_emails:
            n += 1
            email = f"{local}{n}@{DOMAIN}"
        used_emails.add(email)
        return f"{first} {last}", email

    def hire_date(manager: bool) -> date:
        if manager:
            return _rand_date(rng, date(year - 9, 1, 1), date(year - 2, 12, 31))
        u = rng.random()
        if u < 0.14 and months >= 2:  # hired during the year: ramps in the data
            return _rand_date(rng, date(year, 1, 15), _month_end(year, months))
        if u < 0.27:  # hired late last year: still ramping early in the year
            return _rand_date(rng, date(year - 1, 4, 1), date(year - 1, 12, 31))
        return _rand_date(rng, date(year - 6, 1, 1), date(year - 1, 3, 31))

    def add(plan_id: str, manager_id: str, team: str, quota_override: Decimal | None = None) -> _Rep:
        is_mgr = plan_id == MGR
        rep_id = new_id(plan_id)
        name, email = person()
        hire = hire_date(is_mgr)
        end = None
        if not is_mgr and hire < year_start and months >= 4 and rng.random() < LEAVER_RATE:
            end = _month_end(year, rng.randint(3, months - 1))
        if quota_override is None and rng.random() < QUOTA_OVERRIDE_RATE:
            factor = Decimal(rng.choice(QUOTA_FACTORS))
            quota_override = (quotas[plan_id] * factor / 10000).quantize(Decimal(1)) * 10000  # a round 10,000
        if is_mgr:
            perf = min(3.0, max(0.1, rng.lognormvariate(-0.3, 0.5)))
        else:
            perf = min(3.2, max(0.15, rng.lognormvariate(0.0, PERF_SIGMA)))
        rep = _Rep(rep_id, name, email, manager_id, team, hire, plan_id, max(hire, year_start), end, quota_override, perf)
        reps.append(rep)
        return rep

    for t, size in enumerate(_split_evenly(n_sales_all, n_sales_teams)):
        team = REGIONS[t % len(REGIONS)] + (f" {t // len(REGIONS) + 1}" if t >= len(REGIONS) else "")
        mgr = add(MGR, "", team)
        members = size - 1
        n_ae = max(1, round(members * AE_SHARE)) if members else 0
        roles = [AE] * n_ae + [AM] * (members - n_ae)
        rng.shuffle(roles)
        for plan_id in roles:
            add(plan_id, mgr.rep_id, team)
    for t, size in enumerate(_split_evenly(n_se_all, n_se_teams)):
        team = "Solutions" if n_se_teams == 1 else f"Solutions {t + 1}"
        mgr = add(MGR, "", team, quota_override=Decimal(0))  # pure override: no personal quota
        for _ in range(size - 1):
            add(SE, mgr.rep_id, team)
    return reps, n_sales_teams + n_se_teams


def _tenure(hire: date, year: int, month: int) -> int:
    return (year * 12 + month) - (hire.year * 12 + hire.month) + 1


def _capacity(r: _Rep, quotas: dict[str, Decimal], year: int, month: int) -> float:
    """Expected credit a rep sells in a month (0 when not on the plan that month)."""
    first = date(year, month, 1)
    if r.start > _month_end(year, month) or (r.end is not None and r.end < first):
        return 0.0
    return r.annual_quota(quotas) / 12 * r.perf * _ramp_capacity(_tenure(r.hire, year, month)) * MONTH_FACTOR[(month - 1) % 3]


# --------------------------------------------------------------------------- writing


def _writer(fh) -> SafeWriter:  # noqa: ANN001
    """A CSV writer whose text cells are neutralised against formula injection (amounts stay numbers)."""
    return SafeWriter(fh)


def generate(
    out_dir: Path | str,
    *,
    seed: int | str = 1,
    reps: int = 40,
    deals: int = 1500,
    year: int = 2026,
    months: int = 12,
    plans_dir: Path | str | None = None,
    currencies: tuple[str, ...] = (CURRENCY,),
) -> GenerateSummary:
    """Write a seeded company as a data folder in ``out_dir``; same arguments, same bytes.

    ``months`` is how many months of deals, from January of ``year``. With
    ``plans_dir`` the quotas come from its plan files and the files are copied to
    ``out_dir/plans``. ``currencies`` (USD first): with others, about 30% of the deals are
    booked in them (the amount at the month's rate, in the currency's minor units), an
    ``fx_rates.csv`` holds a rate per currency and month, and about 15% of the AEs are paid
    in the second currency, on a copy of the AE plan in it (``ae-2026-eur``: its annual
    quota converted and rounded to a thousand; other amounts in the plan kept as numbers).
    The USD-only company is byte for byte what it was (the currency choices draw from their
    own random stream).
    """
    if not 1 <= months <= 12:
        raise ValueError(f"months must be 1..12, got {months}")
    if deals < 0:
        raise ValueError("deals must not be negative")
    fx = _fx_plan(currencies, seed, year, months)
    quotas = plan_quotas(plans_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    people, n_teams = _build_reps(rng, reps, year, months, quotas)
    if fx is not None:
        fx.assign_paid_currency(people)

    with (out / "reps.csv").open("w", newline="", encoding="utf-8") as fh:
        w = _writer(fh)
        w.writerow(["rep_id", "name", "email", "manager_id", "team", "hire_date"])
        for r in people:
            w.writerow([r.rep_id, r.name, r.email, r.manager_id, r.team, r.hire.isoformat()])
    with (out / "assignments.csv").open("w", newline="", encoding="utf-8") as fh:
        w = _writer(fh)
        w.writerow(["rep_id", "plan_id", "start", "end", "annual_quota"])
        for r in people:
            q = "" if r.quota_override is None or r.pay_plan else f"{r.quota_override:.2f}"
            w.writerow([r.rep_id, r.pay_plan or r.plan_id, r.start.isoformat(), r.end.isoformat() if r.end else "", q])

    written = _write_deals(rng, out, people, quotas, deals, year, months, fx)

    if plans_dir is not None:
        dest = out / "plans"
        dest.mkdir(exist_ok=True)
        from compengine.plans.loader import plan_files

        for p in plan_files(plans_dir):
            shutil.copyfile(p, dest / p.name)
            if fx is not None and fx.paid_in and p.read_text(encoding="utf-8").find(f"id: {AE}\n") >= 0:
                fx.write_plan_copy(p, dest)
    if fx is not None:
        fx.write_rates(out)
    return GenerateSummary(out, len(people), n_teams, deals, written[0], written[1], written[2], year, months, seed)


def _write_deals(
    rng: random.Random, out: Path, people: list[_Rep], quotas: dict[str, Decimal], n_deals: int, year: int, months: int,
    fx: "_Fx | None" = None,
) -> tuple[int, int, int]:
    """Stream deals.csv and splits.csv. Returns (split rows, credit lines, cancelled deals)."""
    sellers = [r for r in people if r.plan_id in MIX]
    ses = [r for r in people if r.plan_id == SE]
    size_mean = {t: _lognorm_mean(*SIZE[t]) for t in TYPES}
    # relative mean deal size of each seller (by their plan's mix)
    e_rel = {p: sum(m * size_mean[t] for m, t in zip(MIX[p], TYPES)) for p in MIX}
    nl_share = {p: MIX[p][0] * size_mean["new_logo"] / e_rel[p] for p in MIX}  # new-logo share of volume

    month_sellers: list[list[_Rep]] = []
    month_cum: list[list[float]] = []
    month_weight: list[float] = []
    month_nl_volume: list[float] = []
    month_se: list[list[_Rep]] = []
    month_se_cum: list[list[float]] = []
    month_se_cap: list[float] = []
    month_team_aes: list[dict[str, list[_Rep]]] = []
    for m in range(1, months + 1):
        rs: list[_Rep] = []
        cum: list[float] = []
        total = 0.0
        nl_vol = 0.0
        team_aes: dict[str, list[_Rep]] = {}
        for r in sellers:
            cap = _capacity(r, quotas, year, m)
            if cap <= 0:
                continue
            total += cap / e_rel[r.plan_id]
            nl_vol += cap * nl_share[r.plan_id]
            rs.append(r)
            cum.append(total)
            if r.plan_id == AE:
                team_aes.setdefault(r.team, []).append(r)
        month_sellers.append(rs)
        month_cum.append(cum)
        month_weight.append(total)
        month_nl_volume.append(nl_vol)
        month_team_aes.append(team_aes)
        se_list: list[_Rep] = []
        se_cum: list[float] = []
        se_total = 0.0
        for r in ses:
            cap = _capacity(r, quotas, year, m)
            if cap > 0:
                se_total += cap
                se_list.append(r)
                se_cum.append(se_total)
        month_se.append(se_list)
        month_se_cum.append(se_cum)
        month_se_cap.append(se_total)

    total_weight = sum(month_weight)
    if n_deals and total_weight <= 0:
        raise ValueError("no rep can sell in these months")
    # Scale of deal sizes: the expected credit of every rep equals its capacity.
    scale = total_weight / n_deals if n_deals else 0.0
    # Overlay probability on new logos, per month, so SE credit meets SE capacity
    # (an overlay is 100% or, one time in five, 50%: 0.9 on average).
    overlay_p = [
        min(0.85, max(0.1, month_se_cap[i] / (0.9 * month_nl_volume[i]))) if month_nl_volume[i] > 0 and month_se[i] else 0.0
        for i in range(months)
    ]

    # Days: business days, the last week of a month weighing double, weekends a little.
    days: list[date] = []
    day_cum: list[float] = []
    acc = 0.0
    for m in range(1, months + 1):
        first = date(year, m, 1)
        n_days = calendar.monthrange(year, m)[1]
        weights = []
        for i in range(n_days):
            d = first + timedelta(days=i)
            wgt = 1.0 if d.weekday() < 5 else 0.08
            if i >= n_days - 7:
                wgt *= 2.0
            weights.append(wgt)
        wsum = sum(weights)
        for i, wgt in enumerate(weights):
            acc += month_weight[m - 1] * wgt / wsum
            days.append(first + timedelta(days=i))
            day_cum.append(acc)
    per_day = [0] * len(days)
    chunk = 100_000
    left = n_deals
    while left > 0:  # drawn in chunks: no list of a million days at once
        k = min(chunk, left)
        for i in rng.choices(range(len(days)), cum_weights=day_cum, k=k):
            per_day[i] += 1
        left -= k

    as_of = _month_end(year, months)
    width = max(5, len(str(n_deals)))
    base_accounts = max(20, n_deals // 10)
    new_accounts = 0
    split_rows = credit_lines = cancelled = 0
    size_params = [SIZE[t] for t in TYPES]
    term_cum = {t: _cum(TERM_WEIGHTS[t]) for t in TYPES}
    mix_cum = {p: _cum(MIX[p]) for p in MIX}
    random_ = rng.random
    lognorm = rng.lognormvariate
    deal_no = 0
    with (out / "deals.csv").open("w", newline="", encoding="utf-8") as fd, (out / "splits.csv").open(
        "w", newline="", encoding="utf-8"
    ) as fs:
        wd = _writer(fd)
        ws = _writer(fs)
        wd.writerow(["deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months",
                     "product", "cancelled_on"])
        ws.writerow(["deal_id", "rep_id", "split_pct", "role"])
        for di, count in enumerate(per_day):
            if not count:
                continue
            day = days[di]
            mi = day.month - 1
            close = day.isoformat()
            rs = month_sellers[mi]
            cum = month_cum[mi]
            top = month_weight[mi]
            for _ in range(count):
                deal_no += 1
                deal_id = f"D{deal_no:0{width}d}"
                owner = rs[min(bisect.bisect_left(cum, random_() * top), len(rs) - 1)]
                ti = bisect.bisect_left(mix_cum[owner.plan_id], random_())
                ti = min(ti, 2)
                deal_type = TYPES[ti]
                mu, sigma = size_params[ti]
                value = scale * lognorm(mu, sigma)
                if random_() < 0.5:  # many deals are quoted in round hundreds
                    cents = max(1, int(value / 100 + 0.5)) * 10000
                else:
                    cents = max(10000, int(value * 100 + 0.5))
                term = TERMS[min(bisect.bisect_left(term_cum[deal_type], random_()), 2)]
                products = PRODUCTS[deal_type]
                product = products[int(random_() * len(products))]
                if deal_type == "new_logo":
                    account = _account_name(base_accounts + new_accounts)
                    new_accounts += 1
                else:
                    account = _account_name(int(random_() * (base_accounts + new_accounts)))
                cancelled_on = ""
                if random_() < CANCEL_RATE:
                    u = random_()
                    if u < 0.35:
                        gap = 1 + int(random_() * 55)  # inside both windows
                    elif u < 0.6:
                        gap = 61 + int(random_() * 29)  # inside 90 days, outside 60
                    else:
                        gap = 95 + int(random_() * 150)  # outside both
                    when = day + timedelta(days=gap)
                    if when <= as_of:  # later cancellations are not known yet
                        cancelled_on = when.isoformat()
                        cancelled += 1
                amount, currency = _money(cents), CURRENCY
                if fx is not None:
                    amount, currency = fx.book(cents, day.month)
                wd.writerow([deal_id, account, deal_type, amount, currency, close, owner.rep_id, term, product,
                             cancelled_on])
                primaries = 1
                if deal_type == "new_logo" and owner.plan_id == AE and random_() < SPLIT_RATE:
                    mates = [r for r in month_team_aes[mi].get(owner.team, ()) if r is not owner]
                    if mates:
                        if len(mates) >= 2 and random_() < 0.15:
                            pcts = SPLITS_3[int(random_() * len(SPLITS_3))]
                            i = int(random_() * len(mates))
                            j = int(random_() * (len(mates) - 1))
                            others = [mates[i], mates[j if j < i else j + 1]]
                        else:
                            pcts = SPLITS_2[int(random_() * len(SPLITS_2))]
                            others = [mates[int(random_() * len(mates))]]
                        for r, pct in zip([owner, *others], pcts):
                            ws.writerow([deal_id, r.rep_id, pct, "primary"])
                        primaries = len(pcts)
                        split_rows += len(pcts)
                credit_lines += primaries
                if deal_type == "new_logo" and overlay_p[mi] and random_() < overlay_p[mi]:
                    se_list = month_se[mi]
                    se_cum = month_se_cum[mi]
                    se = se_list[min(bisect.bisect_left(se_cum, random_() * month_se_cap[mi]), len(se_list) - 1)]
                    ws.writerow([deal_id, se.rep_id, "50" if random_() < 0.2 else "100", "overlay"])
                    split_rows += 1
                    credit_lines += 1
    return split_rows, credit_lines, cancelled


class _Fx:
    """The currencies of a multi-currency company (``generate(currencies=...)``): monthly rates, the
    currency each deal is booked in, and the AEs paid in the second currency."""

    def __init__(self, currencies: tuple[str, ...], seed: int | str, year: int, months: int) -> None:
        from compengine.core.currency import minor_units

        self.home, self.others = currencies[0], currencies[1:]
        self.rng = random.Random(f"{seed}/currencies")  # its own stream: the USD company's bytes stay the same
        self.year, self.months = year, months
        self.places = {c: minor_units(c) for c in currencies}
        # rate[c][m-1]: USD per unit of c in month m (6 significant digits), a seeded walk from the reference
        self.rate: dict[str, list[Decimal]] = {}
        for c in self.others:
            r, out = float(REFERENCE_USD[c]), []
            for _ in range(months):
                out.append(Decimal(f"{r:.6g}"))
                r *= 1 + self.rng.uniform(-0.03, 0.03)
            self.rate[c] = out
        self.paid_in = self.others[0] if self.others else None

    def assign_paid_currency(self, people: list[_Rep]) -> None:
        """About 15% of the AEs move to the AE plan's copy in the second currency (their quota is the plan's)."""
        if self.paid_in is None:
            return
        for r in people:
            if r.plan_id == AE and self.rng.random() < PAID_IN_OTHER:
                r.pay_plan = f"{AE}-{self.paid_in.lower()}"

    def book(self, cents: int, month: int) -> tuple[str, str]:
        """The deal's amount and currency: USD, or (30% of deals) another currency at the month's rate."""
        if not self.others or self.rng.random() >= FOREIGN_SHARE:
            return _money(cents), self.home
        c = self.others[int(self.rng.random() * len(self.others))]
        places = self.places[c]
        amount = (Decimal(cents) / 100 / self.rate[c][month - 1]).quantize(Decimal(1).scaleb(-places))
        if amount <= 0:
            amount = Decimal(1).scaleb(-places)
        return f"{amount:f}", c

    def write_rates(self, out: Path) -> None:
        with (out / "fx_rates.csv").open("w", newline="", encoding="utf-8") as fh:
            w = _writer(fh)
            w.writerow(["date", "from_currency", "to_currency", "rate"])
            for c in self.others:
                for m, rate in enumerate(self.rate[c], start=1):
                    w.writerow([date(self.year, m, 1).isoformat(), c, self.home, f"{rate:f}"])

    def write_plan_copy(self, src: Path, dest: Path) -> None:
        """The AE plan in the second currency: its id and currency changed, its annual quota converted at the
        year's first rate and rounded to a thousand."""
        import re

        c = self.paid_in
        assert c is not None
        text = src.read_text(encoding="utf-8")
        text = text.replace(f"id: {AE}\n", f"id: {AE}-{c.lower()}\n", 1)
        text = re.sub(r"(?m)^currency: *\w+", f"currency: {c}", text, count=1)

        def convert(m: re.Match) -> str:
            usd = Decimal(m.group(2))
            local = (usd / self.rate[c][0] / 1000).quantize(Decimal(1)) * 1000
            return f"{m.group(1)}{local}            # {usd} USD at {self.rate[c][0]}"

        text = re.sub(r"(annual: *)(\d+)[^\n]*", convert, text, count=1)
        if not re.search(r"(?m)^fx:", text):  # deals in a third currency convert through USD (cross rates)
            text = text.rstrip("\n") + f"\nfx: {{base: {self.home}}}        # deals in other currencies convert through {self.home}\n"
        header = f"# generated: {src.name} paid in {c} (annual quota converted at {self.rate[c][0]} USD per {c})\n"
        (dest / f"{src.stem}-{c.lower()}{src.suffix}").write_text(header + text, encoding="utf-8")


def _fx_plan(currencies: tuple[str, ...], seed: int | str, year: int, months: int) -> _Fx | None:
    """None for a USD-only company; else the currencies, checked."""
    cur = tuple(dict.fromkeys(c.strip().upper() for c in currencies if c.strip()))
    if not cur or cur == (CURRENCY,):
        return None
    if cur[0] != CURRENCY:
        raise ValueError(f"--currencies must start with {CURRENCY} (the example plans pay in it), got {','.join(cur)}")
    unknown = [c for c in cur if c not in REFERENCE_USD]
    if unknown:
        raise ValueError(f"no reference rate for {', '.join(unknown)}: the generator knows "
                         f"{', '.join(sorted(REFERENCE_USD))}")
    return _Fx(cur, seed, year, months)


def _cum(weights: tuple[float, ...]) -> list[float]:
    total = float(sum(weights))
    out = []
    acc = 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


# --------------------------------------------------------------------------- later versions


def amend(
    data_dir: Path | str,
    out_dir: Path | str,
    seed: int | str = 1,
    fraction: float = 0.02,
    *,
    as_of: date | None = None,
) -> AmendSummary:
    """Write a later version of a data folder: amendments and late cancellations.

    Of the deals closed before the data's last month, about ``fraction`` get a
    changed amount (up 5-30% or down 5-40%) and about ``fraction / 2`` of those not
    yet cancelled get a ``cancelled_on``, some days after close (inside and outside
    the 60- and 90-day windows), never after ``as_of`` (default: the last day of the
    month after the data's last close month). Every other file (and a ``plans``
    folder) is copied unchanged. Seeded: same arguments, same bytes.
    """
    src = Path(data_dir)
    out = Path(out_dir)
    if src.resolve() == out.resolve():
        raise ValueError("amend writes a new folder: out_dir must differ from data_dir")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = random.Random(seed)
    last = ""
    with (src / "deals.csv").open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        ci = header.index("close_date")
        for row in reader:
            if row and row[ci] > last:
                last = row[ci]
    if not last:
        raise ValueError(f"{src / 'deals.csv'}: no deals to amend")
    last_close = date.fromisoformat(last)
    last_month_start = last_close.replace(day=1)
    if as_of is None:
        nxt = last_month_start + timedelta(days=32)
        as_of = _month_end(nxt.year, nxt.month)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("reps.csv", "assignments.csv", "splits.csv"):
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    if (src / "plans").is_dir():
        (out / "plans").mkdir(exist_ok=True)
        for p in sorted((src / "plans").iterdir()):
            if p.is_file():
                shutil.copyfile(p, out / "plans" / p.name)
    deals = amended = cancelled = 0
    with (src / "deals.csv").open(newline="", encoding="utf-8-sig") as fh, (out / "deals.csv").open(
        "w", newline="", encoding="utf-8"
    ) as fo:
        reader = csv.reader(fh)
        w = _writer(fo)
        header = next(reader)
        w.writerow(header)
        ai, ci, xi = header.index("amount"), header.index("close_date"), header.index("cancelled_on")
        ki = header.index("currency")
        for row in reader:
            if not row:
                continue
            deals += 1
            close = date.fromisoformat(row[ci])
            if close < last_month_start:
                u = rng.random()
                if u < fraction:
                    cents = int((Decimal(row[ai]) * 100).to_integral_value())
                    change = rng.uniform(0.05, 0.30) if rng.random() < 0.5 else -rng.uniform(0.05, 0.40)
                    new = max(100, int(cents * (1 + change) + 0.5))
                    whole = minor_units(row[ki]) == 0  # a yen amount stays in whole yen
                    if whole:
                        new = max(100, new - new % 100)
                    if new != cents:
                        row[ai] = str(new // 100) if whole else _money(new)
                        amended += 1
                elif u < fraction * 1.5 and not row[xi]:
                    v = rng.random()
                    gap = 1 + int(rng.random() * 55) if v < 0.35 else 61 + int(rng.random() * 29) if v < 0.6 else 95 + int(rng.random() * 150)
                    row[xi] = min(close + timedelta(days=gap), as_of).isoformat()
                    cancelled += 1
            w.writerow(row)
    return AmendSummary(out, deals, amended, cancelled, as_of)
