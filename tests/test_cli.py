"""The command line: every command documented with an example; calc's JSON shape and filters."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
CALC = ["calc", "--plans", str(ROOT / "plans"), "--data", str(ROOT / "examples" / "acme"), "--period", "2026-10"]

TOP_KEYS = ["period", "reps", "total_payout"]
REP_KEYS = ["rep_id", "plan_id", "plan_version", "quota", "credited", "attainment", "components", "lines",
            "commission", "spiff", "cap", "clawback", "override", "draw", "payout"]
LINE_KEYS = ["deal_id", "kind", "component", "credit", "rate", "multiplier", "amount", "explain", "deal_source",
             "rule_source"]
DECIMAL = re.compile(r"^-?\d+\.\d+$")


def all_commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and subcommand, found by walking the click groups (so new commands are covered)."""
    out: list[tuple[tuple[str, ...], click.Command]] = [(prefix, group)]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group):
            out.extend(all_commands(cmd, prefix + (name,)))
        else:
            out.append((prefix + (name,), cmd))
    return out


def test_the_walk_finds_the_known_commands():
    names = {" ".join(path) for path, _ in all_commands()}
    assert {"", "calc", "plans", "plans validate", "plans show"} <= names


@pytest.mark.parametrize("path, cmd", [pytest.param(p, c, id=" ".join(("compengine",) + p)) for p, c in all_commands()])
def test_every_command_has_help_with_an_example(path, cmd):
    assert cmd.help and "Example" in cmd.help, f"`compengine {' '.join(path)}` has no example in its help"
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.stdout


# --------------------------------------------------------------------------- calc --json


def calc_json(*extra: str) -> dict:
    res = CliRunner().invoke(main, [*CALC, "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_calc_json_has_exactly_the_documented_keys():
    out = calc_json()
    assert list(out) == TOP_KEYS
    assert out["period"] == "2026-10"
    assert out["reps"], "the example company has reps"
    kinds = set()
    for r in out["reps"]:
        assert list(r) == REP_KEYS, r["rep_id"]
        assert list(r["plan_version"]) == ["file", "effective_from", "effective_to", "digest"]
        assert r["plan_version"]["file"].startswith(str(ROOT / "plans")) and len(r["plan_version"]["digest"]) == 64
        for k in REP_KEYS:
            if k not in ("rep_id", "plan_id", "plan_version", "lines", "components"):
                assert isinstance(r[k], str) and DECIMAL.match(r[k]), (r["rep_id"], k, r[k])
        for ln in r["lines"]:
            assert list(ln) == LINE_KEYS
            kinds.add(ln["kind"])
            assert DECIMAL.match(ln["amount"])
            for k in ("credit", "rate", "multiplier"):
                assert ln[k] is None or DECIMAL.match(ln[k]), (k, ln[k])
            assert ln["explain"]
    assert {"commission", "spiff", "clawback", "override", "draw", "draw_recovery"} <= kinds
    assert DECIMAL.match(out["total_payout"])


def test_calc_json_numbers_add_up():
    out = calc_json()
    total = Decimal(0)
    for r in out["reps"]:
        assert sum((Decimal(ln["amount"]) for ln in r["lines"]), Decimal(0)) == Decimal(r["payout"])
        commission = sum((Decimal(ln["amount"]) for ln in r["lines"] if ln["kind"] == "commission"), Decimal(0))
        assert commission == Decimal(r["commission"])
        total += Decimal(r["payout"])
    assert total == Decimal(out["total_payout"]) == Decimal("34200.00")


def test_calc_json_formats_as_documented():
    r1 = next(r for r in calc_json()["reps"] if r["rep_id"] == "R1")
    assert (r1["quota"], r1["credited"], r1["attainment"]) == ("100000.00", "138000.00", "1.3800")
    first = r1["lines"][0]
    assert first == {
        "deal_id": "D1", "kind": "commission", "component": "commission", "credit": "60000.00", "rate": "0.10",
        "multiplier": "1.0", "amount": "6000.00",
        "explain": "D1 new_logo Globex: credit 60,000.00 in band 1 (0%–100%) at 10% x 1.0 = 6,000.00",
        # where the deal and the rule are written: deals.csv line 2; ae.yaml's new_logo rate and band 1
        "deal_source": str(ROOT / "examples" / "acme" / "deals.csv") + ":2",
        "rule_source": str(ROOT / "plans" / "ae.yaml") + ":11,17 @2446f73d",
    }
    assert [(c["component"], c["period"], c["quota"], c["credited"]) for c in r1["components"]] == [
        ("commission", "2026-10", "100000.00", "138000.00")]


def test_calc_rep_filter():
    out = calc_json("--rep", "R1", "--rep", "S1")
    assert [r["rep_id"] for r in out["reps"]] == ["R1", "S1"]
    # the total covers the reps shown: R1 11,250.00 + S1 2,000.00
    assert out["total_payout"] == "13250.00"


def test_calc_unknown_rep_fails():
    res = CliRunner().invoke(main, [*CALC, "--rep", "R99"])
    assert res.exit_code != 0
    assert "unknown rep 'R99'" in res.stderr
    assert res.stdout == ""


def test_calc_bad_period_fails():
    res = CliRunner().invoke(main, [*CALC[:-1], "2026-13"])
    assert res.exit_code == 2
    assert "Invalid value for '--period'" in res.stderr


def test_calc_text_table():
    res = CliRunner().invoke(main, CALC)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Period 2026-10: 5 rep(s), total payout 34,200.00")
    assert "R2  plan ae-2026  quota 50,000.00  credited 72,000.00  attainment 144.00%" in res.stdout
    assert "balances: draw balance 6,000.00" in res.stdout
    no_explain = CliRunner().invoke(main, [*CALC, "--no-explain"])
    assert "D1 new_logo Globex: credit" in res.stdout and "D1 new_logo Globex: credit" not in no_explain.stdout


def test_calc_json_twice_is_byte_identical():
    a = CliRunner().invoke(main, [*CALC, "--json"]).stdout
    b = CliRunner().invoke(main, [*CALC, "--json"]).stdout
    assert a == b and a.endswith("}\n")


def test_calc_bad_plans_folder_fails(tmp_path):
    (tmp_path / "x.yaml").write_text("id: x\n")
    res = CliRunner().invoke(main, ["calc", "--plans", str(tmp_path), "--data", str(ROOT / "examples" / "acme"),
                                    "--period", "2026-10", "--json"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert f"{tmp_path / 'x.yaml'}:1: currency: is required" in res.stderr


def test_plans_readme_json_example_is_real_output():
    """The JSON example in plans/README.md is `calc --rep R1 --json` on the example company, first line only."""
    readme = (ROOT / "plans" / "README.md").read_text(encoding="utf-8")
    block = readme.split("```json\n", 1)[1].split("```", 1)[0]
    documented = json.loads(block)
    real = calc_json("--rep", "R1")
    real["reps"][0]["lines"] = real["reps"][0]["lines"][:1]
    version = real["reps"][0]["plan_version"]
    version["file"] = Path(version["file"]).relative_to(ROOT).as_posix()  # calc ran on ROOT/plans
    line = real["reps"][0]["lines"][0]
    for k in ("deal_source", "rule_source"):  # paths as the README's command gives them (relative)
        line[k] = line[k].replace(str(ROOT) + "/", "")
    assert documented == real
