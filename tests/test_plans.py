"""Plan files: the example plans load; bad plans fail with file, line and field named."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.plans import load_plan_file, load_plan_text, load_plans
from compengine.plans.loader import parse_plan_text
from helpers_engine import dedent

PLANS = Path(__file__).resolve().parent.parent / "plans"

GOOD = """\
id: ok
currency: USD
quota:
  annual: 1200000
rates:
  new_logo: 0.10
"""


def errors_of(text: str, file: str = "bad.yaml") -> list[str]:
    plan, errors = load_plan_text(text, file)
    assert plan is None, "expected the plan to be rejected"
    return [str(e) for e in errors]


# --------------------------------------------------------------------------- the examples


def test_every_example_plan_loads():
    plans, errors = load_plans(PLANS)
    assert errors == []
    assert sorted(plans) == ["ae-2026", "am-2026", "mgr-2026", "se-2026"]


def test_ae_plan_compiles_bands_ramp_cap_spiff_clawback_draw():
    plan, errors = load_plan_file(PLANS / "ae.yaml")
    assert not errors and plan is not None
    assert (plan.currency, plan.rounding, plan.measure, plan.mode) == ("USD", "half_up", "period", "marginal")
    assert plan.annual_quota == Decimal(1200000)
    assert dict(plan.rates) == {"new_logo": Decimal("0.10"), "expansion": Decimal("0.05"), "renewal": Decimal("0.02")}
    assert [(t.index, t.lower, t.upper, t.multiplier) for t in plan.tiers] == [
        (1, Decimal(0), Decimal("1.0"), Decimal("1.0")),
        (2, Decimal("1.0"), Decimal("1.5"), Decimal("1.5")),
        (3, Decimal("1.5"), None, Decimal("2.0")),
    ]
    assert [plan.ramp_pct(t) for t in (1, 3, 4, 6, 7, 9, 10, None)] == [0, 0, 50, 50, 75, 75, 100, 100]
    assert plan.monthly_quota(None, 5) == Decimal("50000.00")  # 1,200,000 x 50% / 12
    assert plan.monthly_quota(Decimal(600000), None) == Decimal("50000.00")
    assert plan.cap == Decimal(50000)
    assert [(s.id, s.amount, s.deal_type, s.min_term_months) for s in plan.spiffs] == [
        ("multi-year", Decimal(500), "new_logo", 24)
    ]
    assert plan.clawback_days == 90
    assert plan.draw is not None and (plan.draw.amount, plan.draw.months, plan.draw.recoverable) == (3000, 6, True)
    assert plan.override_rate is None
    assert plan.source.file.endswith("ae.yaml") and plan.source.line == 4  # the id line, after the comments


def test_am_se_manager_plans():
    am = load_plan_file(PLANS / "am.yaml")[0]
    se = load_plan_file(PLANS / "se.yaml")[0]
    mgr = load_plan_file(PLANS / "manager.yaml")[0]
    assert am is not None and se is not None and mgr is not None
    assert (am.measure, am.mode, am.tiers[0].multiplier) == ("ytd", "retroactive", Decimal("0.5"))
    assert se.draw is not None and se.draw.recoverable is False
    assert (mgr.override_rate, mgr.rounding) == (Decimal("0.01"), "half_even")
    # no accelerators: one open band at x1.0
    assert [(t.upper, t.multiplier) for t in mgr.tiers] == [(None, Decimal("1.0"))]


def test_only_id_currency_quota_rates_are_required():
    plan, errors = load_plan_text(GOOD, "min.yaml")
    assert errors == [] and plan is not None
    assert plan.name == "ok" and plan.measure == "period" and plan.rounding == "half_up"
    assert plan.rates["expansion"] == 0 and plan.cap is None and plan.spiffs == () and plan.draw is None


def _walk(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def test_yaml_numbers_never_become_floats():
    text = (PLANS / "ae.yaml").read_text() + "rounding: half_up\n"
    spec, errors, _ = parse_plan_text(text, "ae.yaml")
    assert spec is not None and not errors
    values = list(_walk(spec.model_dump()))
    assert not any(isinstance(v, float) for v in values)
    assert spec.rates.new_logo == Decimal("0.10") and str(spec.rates.new_logo) == "0.10"
    assert str(spec.accelerators.tiers[1].upto) == "1.5"
    # a value that a float would change: 0.1 + 0.2 style drift never appears
    plan, _ = load_plan_text(GOOD.replace("0.10", "0.123456789012345678901234567"), "x.yaml")
    assert plan is not None and plan.rates["new_logo"] == Decimal("0.123456789012345678901234567")


# --------------------------------------------------------------------------- bad plans: file, line, field


def test_tiers_not_ascending_names_line_and_field():
    text = dedent("""
        id: t
        currency: USD
        quota:
          annual: 1200000
        rates:
          new_logo: 0.10
        accelerators:
          tiers:
            - {upto: 1.0, multiplier: 1.0}
            - {upto: 0.8, multiplier: 1.5}
            - {multiplier: 2.0}
    """)
    assert errors_of(text) == [
        "bad.yaml:10: accelerators.tiers[1].upto: must be greater than 1.0 (tiers ascend and must not overlap)"
    ]


def test_overlapping_tiers():
    text = GOOD + dedent("""
        accelerators:
          tiers:
            - {upto: 1.5, multiplier: 1.0}
            - {upto: 1.5, multiplier: 1.5}
            - {multiplier: 2.0}
    """)
    assert errors_of(text) == [
        "bad.yaml:10: accelerators.tiers[1].upto: must be greater than 1.5 (tiers ascend and must not overlap)"
    ]


def test_open_tier_must_be_last():
    text = GOOD + dedent("""
        accelerators:
          mode: marginal
          tiers:
            - {multiplier: 1.0}
            - {upto: 1.5, multiplier: 1.5}
    """)
    assert errors_of(text) == ["bad.yaml:10: accelerators.tiers[0].upto: only the last tier may be open (no upto)"]


def test_last_tier_must_be_open():
    text = GOOD + "accelerators:\n  tiers:\n    - {upto: 1.0, multiplier: 1.0}\n"
    assert errors_of(text) == ["bad.yaml:9: accelerators.tiers[0].upto: the last tier must be open: remove its upto"]


def test_unknown_keys_at_top_and_nested():
    text = dedent("""
        id: t
        currency: USD
        quota: {annual: 1200000}
        rates:
          new_logo: 0.10
          upsell: 0.05
        colour: red
    """)
    assert errors_of(text) == [
        "bad.yaml:6: rates.upsell: unknown key 'upsell'",
        "bad.yaml:7: colour: unknown key 'colour'",
    ]


def test_negative_rate_and_other_bounds():
    text = dedent("""
        id: t
        currency: USD
        quota: {annual: -5}
        rates:
          new_logo: 0.10
          renewal: -0.02
        cap: {per_period: 0}
    """)
    assert errors_of(text) == [
        "bad.yaml:3: quota.annual: input should be greater than or equal to 0",
        "bad.yaml:6: rates.renewal: input should be greater than or equal to 0",
        "bad.yaml:7: cap.per_period: input should be greater than 0",
    ]


def test_ramp_overlap():
    text = GOOD + dedent("""
        ramp:
          - {months: [4, 6], quota_pct: 50}
          - {months: [1, 4], quota_pct: 0}
    """)
    # the step that starts later ([4, 6], line 8) overlaps the earlier one
    assert errors_of(text) == ["bad.yaml:8: ramp[0].months: overlaps tenure months [1, 4]"]


def test_bad_ramp_range_and_percent():
    text = GOOD + "ramp:\n  - {months: [3, 1], quota_pct: 150}\n"
    errs = errors_of(text)
    assert "bad.yaml:8: ramp[0].months: must be [first, last] tenure months with 1 <= first <= last" in errs
    assert "bad.yaml:8: ramp[0].quota_pct: input should be less than or equal to 100" in errs


def test_missing_required_keys():
    text = "# a plan without quota and rates\nid: t\ncurrency: USD\n"
    assert errors_of(text) == ["bad.yaml:2: quota: is required", "bad.yaml:2: rates: is required"]


def test_invalid_yaml():
    text = "id: t\ncurrency: USD\nquota: {annual: 1\nrates: {new_logo: 0.1}\n"
    errs = errors_of(text)
    assert len(errs) == 1 and errs[0].startswith("bad.yaml:4: not valid YAML: ")


def test_duplicate_yaml_key():
    assert errors_of(GOOD + "currency: EUR\n") == ["bad.yaml:7: currency: duplicate key 'currency'"]


def test_number_with_leading_zero_is_refused_not_read_as_octal():
    text = GOOD + "ramp:\n  - {months: [1, 010], quota_pct: 0}\n"
    assert errors_of(text) == ["bad.yaml:8: ramp[0].months[1]: not a plain decimal number: '010'"]


def test_bad_enums_and_codes():
    text = dedent("""
        id: t
        currency: usd
        rounding: banker
        quota: {annual: 1, measure: quarter}
        rates: {new_logo: 0.1}
        accelerators: {mode: stepped, tiers: [{multiplier: 1}]}
    """)
    errs = errors_of(text)
    assert [e.split(": ")[0:2] for e in errs] == [
        ["bad.yaml:2", "currency"],
        ["bad.yaml:3", "rounding"],
        ["bad.yaml:4", "quota.measure"],
        ["bad.yaml:6", "accelerators.mode"],
    ]


def test_spiff_and_draw_sections():
    text = GOOD + dedent("""
        spiffs:
          - {id: a, amount: 100, when: {deal_type: upsell}}
          - {id: a, amount: 0}
        draw: {amount: 1000, months: 0}
    """)
    errs = errors_of(text)
    assert "bad.yaml:8: spiffs[0].when.deal_type: input should be 'new_logo', 'expansion' or 'renewal'" in errs
    assert "bad.yaml:9: spiffs[1].amount: input should be greater than 0" in errs
    assert "bad.yaml:10: draw.months: input should be greater than or equal to 1" in errs


def test_empty_and_non_mapping_files():
    assert errors_of("") == ["bad.yaml:1: the file is empty"]
    assert errors_of("- a\n- b\n") == ["bad.yaml:1: a plan file must be a mapping of keys"]


def test_duplicate_plan_id_across_two_files(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("# the same id again\nname: copy\n" + GOOD)
    plans, errors = load_plans(tmp_path)
    assert list(plans) == ["ok"]
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert [str(e) for e in errors] == [f"{b}:3: id: plan id 'ok' is already used by {a}:1"]


def test_load_plans_collects_errors_of_every_file(tmp_path):
    (tmp_path / "one.yaml").write_text(GOOD + "bogus: 1\n")
    (tmp_path / "two.yaml").write_text(GOOD.replace("0.10", "-1"))
    (tmp_path / "notes.txt").write_text("ignored")
    plans, errors = load_plans(tmp_path)
    assert plans == {}
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'one.yaml'}:7: bogus: unknown key 'bogus'",
        f"{tmp_path / 'two.yaml'}:6: rates.new_logo: input should be greater than or equal to 0",
    ]


def test_load_plans_on_empty_or_missing_folder(tmp_path):
    assert [e.message for e in load_plans(tmp_path)[1]] == ["no plan files (*.yaml) in this folder"]
    assert [e.message for e in load_plans(tmp_path / "nope")[1]] == ["not a folder of plan files"]


# --------------------------------------------------------------------------- compengine plans validate


def test_plans_validate_cli_ok():
    res = CliRunner().invoke(main, ["plans", "validate", str(PLANS)])
    assert res.exit_code == 0, res.output
    assert "4 plan(s) valid" in res.stdout


def test_plans_validate_cli_prints_every_error_and_exits_1(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD + "bogus: 1\n")
    (tmp_path / "b.yaml").write_text(GOOD.replace("0.10", "-1"))
    (tmp_path / "c.yaml").write_text(GOOD.replace("id: ok", "id: c"))
    (tmp_path / "d.yaml").write_text(GOOD.replace("id: ok", "id: c"))
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 1
    assert f"{tmp_path / 'a.yaml'}:7: bogus: unknown key 'bogus'" in res.stderr
    assert f"{tmp_path / 'b.yaml'}:6: rates.new_logo: input should be greater than or equal to 0" in res.stderr
    assert f"{tmp_path / 'd.yaml'}:1: id: plan id 'c' is already used by {tmp_path / 'c.yaml'}:1" in res.stderr
    assert "3 error(s) in plan files" in res.stderr


def test_plans_validate_cli_duplicates_across_paths(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text("\n" + GOOD)
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert res.exit_code == 1
    assert f"{tmp_path / 'b.yaml'}:2: id: plan id 'ok' is already used by {tmp_path / 'a.yaml'}:1" in res.stderr


def test_plans_validate_cli_json(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD + "bogus: 1\n")
    res = CliRunner().invoke(main, ["plans", "validate", "--json", str(tmp_path)])
    assert res.exit_code == 1
    import json

    out = json.loads(res.stdout)
    assert out == {"ok": False, "plans": [], "versions": {}, "errors": [f"{tmp_path / 'a.yaml'}:7: bogus: unknown key 'bogus'"],
                   "warnings": []}


def test_plans_show_cli():
    res = CliRunner().invoke(main, ["plans", "show", str(PLANS / "ae.yaml")])
    assert res.exit_code == 0, res.output
    assert "band 2 (100%–150%): x1.5" in res.stdout
    assert "ramp: tenure months 4-6 at 50% of quota" in res.stdout


@pytest.mark.parametrize("name", ["ae.yaml", "am.yaml", "se.yaml", "manager.yaml"])
def test_example_plan_files_have_no_unknown_keys_and_validate_alone(name):
    res = CliRunner().invoke(main, ["plans", "validate", str(PLANS / name)])
    assert res.exit_code == 0, res.output


# --------------------------------------------------------------------------- the documentation


def _spec_keys(model, prefix: str = "") -> list[str]:
    """Every key a plan file accepts, dotted (``spiffs[].when.product`` style)."""
    import typing

    from pydantic import BaseModel

    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append(key)
        ann = field.annotation
        inner = [ann, *typing.get_args(ann)]
        for t in inner:
            for cand in [t, *typing.get_args(t)]:
                if isinstance(cand, type) and issubclass(cand, BaseModel):
                    is_list = typing.get_origin(t) is list or typing.get_origin(ann) is list
                    out.extend(_spec_keys(cand, key + ("[]." if is_list else ".")))
    return sorted(set(out))


def test_every_plan_key_is_documented_in_plans_readme():
    from compengine.plans.schema import PlanSpec

    readme = (PLANS / "README.md").read_text(encoding="utf-8")
    keys = _spec_keys(PlanSpec)
    assert "spiffs[].when.min_term_months" in keys and "accelerators.tiers" in keys
    missing = [k for k in keys if f"`{k}`" not in readme]
    assert missing == []


# --------------------------------------------------------------------------- issue 12: hostile and mistyped plans

LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
)


def refused_bounded(tmp_path: Path, text: str | bytes, name: str = "bad.yaml") -> list[str]:
    """Load a plan file through the CLI's path (plans validate) and return its error lines; the
    refusal must come with bounded memory (the file is never expanded: under 64 MB traced, when
    a billion laughs reached 7.5 GB) and no traceback."""
    import tracemalloc

    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    tracemalloc.start()
    try:
        res = CliRunner().invoke(main, ["plans", "validate", str(path)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"refusing {name} took {peak / 2**20:.0f} MB"
    assert res.exit_code == 1 and res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output and res.stdout == ""
    return [line.replace(str(tmp_path) + "/", "") for line in res.stderr.splitlines()]


def test_billion_laughs_is_refused_at_the_first_alias(tmp_path):
    assert len(LAUGHS) < 600
    assert refused_bounded(tmp_path, LAUGHS) == [
        "bad.yaml:2: YAML aliases (*a) are not allowed in plan files: write the value out",
        "Error: 1 error(s) in plan files",
    ]


def test_self_referencing_anchor_is_refused(tmp_path):
    assert refused_bounded(tmp_path, GOOD + "spiffs: &s [*s]\n")[0] == (
        "bad.yaml:7: YAML aliases (*s) are not allowed in plan files: write the value out")


@pytest.mark.parametrize("nest", ["[" * 5000 + "]" * 5000, "{a: " * 5000 + "1" + "}" * 5000])
def test_deep_nesting_is_refused(tmp_path, nest):
    assert refused_bounded(tmp_path, GOOD + f"spiffs: {nest}\n")[0] == "bad.yaml:7: nested more than 20 levels deep"


def test_too_many_values_are_refused(tmp_path):
    text = GOOD + "spiffs:\n" + "".join(f"  - {{id: s{i}, amount: 5}}\n" for i in range(20_000))
    assert refused_bounded(tmp_path, text)[0] == "bad.yaml:2005: more than 10,000 values: too big for a plan file"


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path):
    assert refused_bounded(tmp_path, GOOD + "# padding\n" * 5_000_000)[0] == (
        "bad.yaml: too big for a plan file (50,000,070 bytes, at most 1,000,000)")


def test_a_plan_that_is_not_utf8_is_one_error(tmp_path):
    assert refused_bounded(tmp_path, (GOOD + "name: Müller\n").encode("cp1252"))[0] == (
        "bad.yaml:7: not UTF-8 text: save the plan file as UTF-8")


@pytest.mark.parametrize("annual, message", [
    ("9" * 5000, "number '999999999999...' is too long (5,000 characters, at most 30)"),
    ("9" * 5000 + ".5", "number '999999999999...' is too long (5,002 characters, at most 30)"),
    ("1e309", "not a plain number '1e309': write it in digits, without an exponent (e.g. 60000.00)"),
    ("1.0e+20", "not a plain number '1.0e+20': write it in digits, without an exponent"),
    ("'6e4'", "not a plain number '6e4': write it in digits, without an exponent (e.g. 60000.00)"),
    ("\u0661\u0662\u0660\u0660", "not a number '\u0661\u0662\u0660\u0660': write it with the ASCII digits 0-9"),
    ("1000000000000", "1000000000000 is above the maximum amount 999,999,999,999.99"),
    ("0.001", "0.001 has fractions of a cent"),
    (".inf", "not a number: '.inf'"),
])
def test_plan_money_must_be_a_plain_amount_in_range(annual, message):
    assert errors_of(GOOD.replace("annual: 1200000", f"annual: {annual}")) == [f"bad.yaml:4: quota.annual: {message}"]


@pytest.mark.parametrize("section, message", [
    ("cap: {per_period: 1000000000000}", "cap.per_period: 1000000000000 is above the maximum amount 999,999,999,999.99"),
    ("draw: {amount: 0.005, months: 3}", "draw.amount: 0.005 has fractions of a cent"),
    ("spiffs: [{id: s, amount: 1e6}]", "spiffs[0].amount: not a plain number '1e6': write it in digits, without an exponent (e.g. 60000.00)"),
    ("draw: {amount: 10, months: " + "9" * 5000 + "}", "draw.months: number '999999999999...' is too long (5,000 characters, at most 30)"),
    ("clawback: {window_days: 99999999999}", "clawback.window_days: input should be less than or equal to 37200"),
    ("override: {rate: 11}", "override.rate: input should be less than or equal to 10"),
])
def test_other_plan_numbers_are_bounded(section, message):
    assert errors_of(GOOD + section + "\n") == [f"bad.yaml:7: {message}"]


def test_a_quoted_plain_number_is_still_a_number():
    plan, errors = load_plan_text(GOOD.replace("annual: 1200000", "annual: '1200000.00'"), "ok.yaml")
    assert errors == [] and plan is not None and plan.annual_quota == Decimal("1200000.00")


def test_plans_validate_warns_about_rates_above_one(tmp_path):
    path = tmp_path / "pct.yaml"
    path.write_text(GOOD.replace("new_logo: 0.10", "new_logo: 10\n  renewal: 1.0") + "override: {rate: 1.5}\n")
    res = CliRunner().invoke(main, ["plans", "validate", str(path)])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"warning: {path}:6: rates.new_logo: 10 is above 1.0 (100%): a rate is a fraction, 10% is 0.10",
        f"warning: {path}:8: override.rate: 1.5 is above 1.0 (100%): a rate is a fraction, 10% is 0.10",
    ]
    assert "1 plan(s) valid" in res.stdout
    out = json.loads(CliRunner().invoke(main, ["plans", "validate", str(path), "--json"]).stdout)
    assert out["ok"] is True and len(out["warnings"]) == 2


def test_plans_validate_does_not_warn_about_the_example_plans():
    res = CliRunner().invoke(main, ["plans", "validate", str(PLANS)])
    assert res.exit_code == 0 and "warning" not in res.stderr


def test_plans_show_refuses_a_bad_plan_in_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD + "spiffs: &s [*s]\n")
    res = CliRunner().invoke(main, ["plans", "show", str(path)])
    assert res.exit_code == 1 and not isinstance(res.exception, CompErrors)
    assert res.stderr == f"Error: {path}:7: YAML aliases (*s) are not allowed in plan files: write the value out; nothing to show\n"


def test_compiled_plans_are_cached_by_digest_and_file(monkeypatch):
    """A stored plan version compiles once per (digest, file): the same frozen Plan comes back;
    another file name is another entry (its errors and sources name that file); the LRU is bounded."""
    import compengine.plans.loader as loader

    text = (Path(__file__).resolve().parents[1] / "plans" / "ae.yaml").read_text()
    loader.compile_cache_clear()
    calls = []
    real = loader.load_plan_text
    monkeypatch.setattr(loader, "load_plan_text", lambda t, f: calls.append(f) or real(t, f))
    a, errors = loader.compile_cached(text, "ae.yaml")
    assert a is not None and not errors
    b, _ = loader.compile_cached(text, "ae.yaml", a.digest)
    assert b is a and calls == ["ae.yaml"]
    c, _ = loader.compile_cached(text, "other/ae.yaml")
    assert c is not a and c.source.file == "other/ae.yaml" and calls == ["ae.yaml", "other/ae.yaml"]
    bad, errs = loader.compile_cached("id: x\n", "bad.yaml")
    assert bad is None and errs and all(e.source.file == "bad.yaml" for e in errs)
    monkeypatch.setattr(loader, "PLAN_CACHE_SIZE", 2)
    loader.compile_cached(text, "third.yaml")
    assert len(loader._cache) == 2 and ("ae.yaml" not in {f for _, f in loader._cache})
    loader.compile_cache_clear()
