"""Turn results into the documented JSON shape and a readable text table (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from compengine.core.currency import minor_units
from compengine.core.money import json_money, shown
from compengine.engine.records import COMPONENTS, ComponentMeasure, Line, PeriodResult, RepResult
from compengine.plans.catalog import is_dated, version_dict, version_range
from compengine.plans.model import Plan


def _s(x: Decimal | None) -> str | None:
    return None if x is None else f"{x:f}"


_money = json_money  # an amount in its currency's places (two for cents and whole units, three for fils)


def _totals(result: PeriodResult) -> dict[str, Any]:
    """``total_payout``; a month paying in several currencies also gives ``total_payout_by_currency`` (the
    single total then adds amounts of different currencies, kept for the documented shape)."""
    out: dict[str, Any] = {"total_payout": _money(result.total_payout)}
    by: dict[str, Decimal] = {}
    for r in result.reps:
        by[r.currency] = by.get(r.currency, Decimal(0)) + r.payout
    if len(by) > 1:
        out["total_payout_by_currency"] = {c: _money(by[c]) for c in sorted(by)}
    return out


def line_dict(ln: Line, *, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "deal_id": ln.deal_id,
        "kind": ln.kind,
        "component": ln.component,
        "credit": _money(ln.credit) if ln.credit is not None else None,
        "rate": _s(ln.rate),
        "multiplier": _s(ln.multiplier),
        "amount": _money(ln.amount),
        "explain": ln.explain,
        "deal_source": str(ln.deal_source) if ln.deal_source is not None else None,
        "rule_source": ln.rule_source,
    }
    if not detail:
        return out
    return out | {
        "tier": ln.tier,
        "base": _s(ln.base),
        "rule": ln.rule,
        "ref_period": ln.ref_period,
        "ref": ln.ref,
        "role": ln.role,
        "split_pct": _s(ln.split_pct),
    }


def component_dict(c: ComponentMeasure) -> dict[str, Any]:
    """A plan component's measures for the month: its quota period to date, quota, credit, attainment, and
    what it paid this month."""
    return {"component": c.component, "type": c.type, "period": c.period, "quota": _s(c.quota),
            "credited": _s(c.credited), "attainment": f"{c.attainment:f}", "paid": _money(c.paid)}


def rep_dict(r: RepResult, *, detail: bool = True, plans: Mapping[str, Plan] | None = None) -> dict[str, Any]:
    """A rep's month as JSON data; given the month's ``plans``, with ``plan_version``: the file,
    dates and digest of the version of its plan that priced the month."""
    out: dict[str, Any] = {"rep_id": r.rep_id, "plan_id": r.plan_id}
    if plans is not None and r.plan_id in plans:
        out["plan_version"] = version_dict(plans[r.plan_id])
    out |= {
        "quota": _money(r.quota),
        "credited": _money(r.credited),
        "attainment": f"{r.attainment:f}",
        "components": [component_dict(c) for c in r.parts],
        "lines": [line_dict(ln, detail=detail) for ln in r.lines],
    }
    for k in ("commission", "spiff", "cap", "clawback", "override", "draw"):
        out[k] = _money(r.components[k])
    out["payout"] = _money(r.payout)
    if not detail:
        return out
    for k in COMPONENTS:
        if k not in out:
            out[k] = _money(r.components[k])
    out["currency"] = r.currency
    out["measure"] = r.measure
    out["ytd_quota"] = _money(r.ytd_quota) if r.ytd_quota is not None else None
    out["ytd_credited"] = _money(r.ytd_credited) if r.ytd_credited is not None else None
    out["tenure_month"] = r.tenure_month
    out["draw_balance"] = _money(r.state.draw_balance)
    out["carry_balance"] = _money(r.state.carry_balance)
    out["notes"] = list(r.notes)
    return out


def result_dict(result: PeriodResult, *, detail: bool = True, plans: Mapping[str, Plan] | None = None) -> dict[str, Any]:
    """The result as JSON-ready data, decimals as strings.

    ``detail=False`` with the month's ``plans`` gives exactly the documented shape of
    ``compengine calc --json`` (see plans/README.md); the default adds every component,
    balances, notes, exceptions and each line's tier, rule and references.
    """
    out: dict[str, Any] = {
        "period": result.period,
        "reps": [rep_dict(r, detail=detail, plans=plans) for r in result.reps],
    } | _totals(result)
    if detail:
        out["exceptions"] = list(result.exceptions)
    return out


def result_json(result: PeriodResult, *, detail: bool = True, plans: Mapping[str, Plan] | None = None) -> str:
    """``result_dict`` as JSON, indented by 2, non-ASCII kept (what ``--json`` prints)."""
    return "".join(iter_result_json(result, detail=detail, plans=plans))


def iter_result_json(result: PeriodResult, *, detail: bool = True, plans: Mapping[str, Plan] | None = None) -> Iterator[str]:
    """:func:`result_json` a rep at a time: the same bytes as ``json.dumps(result_dict(result),
    indent=2, ensure_ascii=False)`` plus a newline, without holding a million lines' dicts at once."""
    period = {"period": result.period}
    tail = _totals(result) | ({"exceptions": list(result.exceptions)} if detail else {})
    if not result.reps:
        yield json_indented(period | {"reps": []} | tail) + "\n"
        return
    yield "{\n  " + _ENC("period") + ": " + _ENC(result.period) + ",\n  " + _ENC("reps") + ": ["
    sep = "\n    "
    for r in result.reps:
        yield sep + json_indented(rep_dict(r, detail=detail, plans=plans), 2)
        sep = ",\n    "
    yield "\n  ]" + "".join(",\n  " + _ENC(k) + ": " + json_indented(v, 1) for k, v in tail.items()) + "\n}\n"


_ENC = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C encoder of json.dumps(ensure_ascii=False)


def json_indented(value: Any, level: int = 0) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)`` for JSON data of dicts, lists, str, int,
    bool and None, as if nested ``level`` deep. json.dumps indents in pure Python (about 7 µs a
    payout line); this is about three times faster, mostly through dicts of scalars in one join."""
    out: list[str] = []
    _emit(value, level, out)
    return "".join(out)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return _ENC(v)
    if isinstance(v, int):
        return int.__repr__(v)
    raise TypeError(f"not JSON data of this report: {type(v).__name__}")


def _emit(v: Any, level: int, out: list[str]) -> None:
    if isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        inner = "\n" + "  " * (level + 1)
        if not any(isinstance(x, (dict, list)) for x in v.values()):  # a payout line: one join
            out.append("{" + inner + ("," + inner).join(_ENC(k) + ": " + _scalar(x) for k, x in v.items())
                       + "\n" + "  " * level + "}")
            return
        out.append("{")
        sep = inner
        for k, x in v.items():
            out.append(sep + _ENC(k) + ": ")
            _emit(x, level + 1, out)
            sep = "," + inner
        out.append("\n" + "  " * level + "}")
    elif isinstance(v, list):
        if not v:
            out.append("[]")
            return
        inner = "\n" + "  " * (level + 1)
        out.append("[")
        sep = inner
        for x in v:
            out.append(sep)
            _emit(x, level + 1, out)
            sep = "," + inner
        out.append("\n" + "  " * level + "]")
    else:
        out.append(_scalar(v))


def _m(x: Decimal) -> str:
    return shown(x)


def total_text(result: PeriodResult) -> str:
    """The month's total payout; a month paying in several currencies gives one total per currency
    (never a sum across them): ``USD 3,613.20 + JPY 149,501``."""
    currencies = sorted({r.currency for r in result.reps})
    if len(currencies) == 1 and minor_units(currencies[0]) != 2:  # whole yen, fils
        return f"{result.total_payout:,.{minor_units(currencies[0])}f}"
    if len(currencies) <= 1:
        return _m(result.total_payout)
    return " + ".join(f"{c} {sum((r.payout for r in result.reps if r.currency == c), Decimal(0)):,.{minor_units(c)}f}"
                      for c in currencies)


def result_text(result: PeriodResult, *, show_explain: bool = True, show_lines: bool = True,
                plans: Mapping[str, Plan] | None = None) -> str:
    """A readable table per rep: lines, then the components and the payout.

    ``show_lines=False`` gives the summary: each rep's measures, components and payout only
    (the way to read a month of a million lines at a terminal). Given the month's ``plans``, a
    plan with dates is named with the version that priced the month: ``plan ae-2026
    (2026-07-01.., plans/ae-h2.yaml)``."""
    return "".join(iter_result_text(result, show_explain=show_explain, show_lines=show_lines, plans=plans)).rstrip() + "\n"


def iter_result_text(result: PeriodResult, *, show_explain: bool = True, show_lines: bool = True,
                     plans: Mapping[str, Plan] | None = None) -> Iterator[str]:
    """:func:`result_text` a rep at a time (for printing a big month without building it whole)."""
    yield f"Period {result.period}: {len(result.reps)} rep(s), total payout {total_text(result)}\n"
    for r in result.reps:
        places = minor_units(r.currency) if r.currency != "USD" else 2
        _a = _m if places == 2 else (lambda x, f=f",.{places}f": format(x, f))  # amounts in the plan currency's places
        att = f"{r.attainment * 100:.2f}%" if r.quota > 0 or (r.ytd_quota or 0) > 0 else "n/a (no quota)"
        version = plans.get(r.plan_id) if plans is not None else None
        named = f" ({version_range(version)}, {version.source.file})" if version is not None and is_dated(version) else ""
        head = f"{r.rep_id}  plan {r.plan_id}{named}  quota {_m(r.quota)}  credited {_a(r.credited)}  attainment {att}"
        if r.measure == "ytd" and r.ytd_quota is not None:
            head += f"  (YTD {_a(r.ytd_credited or 0)} / {_m(r.ytd_quota)})"
        out: list[str] = ["", head]
        if r.parts and (len(r.parts) > 1 or r.parts[0].component != "commission"):  # a plan with components
            for c in r.parts:
                q = f"{c.quota:,f}" if c.quota.as_tuple().exponent != -places else _a(c.quota)  # type: ignore[comparison-overlap]
                cr = f"{c.credited:,f}" if c.credited.as_tuple().exponent != -places else _a(c.credited)  # type: ignore[comparison-overlap]
                att_c = f"{c.attainment * 100:.2f}%" if c.quota > 0 else "n/a (no quota)"
                out.append(f"  {c.type} {c.component} ({c.period} to date): quota {q}  credited {cr}  attainment {att_c}"
                           f"  paid {_a(c.paid)}")
        if not show_lines:
            out.append(f"  {len(r.lines)} line(s)")
        elif r.lines:
            out.append(f"  {'kind':<16} {'deal':<12} {'credit':>14} {'rate':>7} {'mult':>5} {'amount':>12}")
            for ln in r.lines:
                credit = _a(ln.credit) if ln.credit is not None else ""
                rate = f"{ln.rate:f}" if ln.rate is not None else ""
                mult = f"{ln.multiplier:f}" if ln.multiplier is not None else ""
                out.append(f"  {ln.kind:<16} {ln.deal_id or '':<12} {credit:>14} {rate:>7} {mult:>5} {_a(ln.amount):>12}")
                if show_explain and ln.explain:
                    out.append(f"      {ln.explain}")
        else:
            out.append("  (no lines)")
        parts = [f"{k} {_a(v)}" for k, v in r.components.items() if v != 0]
        out.append(f"  = payout {r.currency} {_a(r.payout)}" + (f"   [{', '.join(parts)}]" if parts else ""))
        bal = []
        if r.state.draw_balance:
            bal.append(f"draw balance {_a(r.state.draw_balance)}")
        if r.state.carry_balance:
            bal.append(f"carried negative balance {_a(r.state.carry_balance)}")
        if bal:
            out.append("  balances: " + ", ".join(bal))
        for n in r.notes:
            out.append(f"  note: {n}")
        out.append("")
        yield "\n".join(out)
    if result.exceptions:
        yield "\nExceptions to review:\n" + "".join(f"  - {e}\n" for e in result.exceptions)
