"""The README's "Using compengine from Python" examples run as written (from a scratch folder)."""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from compengine import api

REPO = Path(__file__).resolve().parents[1]


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using compengine from Python"):]
    section = section[: section.index("\n## ", 5)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_examples_run(tmp_path, monkeypatch, capsys):
    examples = readme_examples()
    assert len(examples) == 2
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "plans", tmp_path / "plans")
    monkeypatch.chdir(tmp_path)
    for code in examples:
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the documentation's own code
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "34200.00"
    assert out[1].startswith("commission D1 6000.00 D1 new_logo Globex")
    assert out[-1] == "5 statements; True"
    assert (tmp_path / "payouts-2026-10.csv").read_text().count("\n") == 6


def test_library_errors_are_comperrors_never_click(tmp_path):
    with pytest.raises(api.CompErrors, match="not a folder of plan files"):
        api.load_plans(tmp_path / "nowhere")
    with pytest.raises(api.CompErrors, match="month must be 1..12, got 13"):
        api.period("2026-13")
    with api.Ledger.open(f"sqlite:///{tmp_path / 'l.db'}") as ledger:
        with pytest.raises(api.CompErrors, match="has not been calculated"):
            ledger.show("2026-10")
        with pytest.raises(api.CompErrors, match="unknown rep 'R1'"):
            ledger.adjust("R1", "2026-10", Decimal("1.00"), "x", actor="ops")
        assert ledger.status() == []


def test_every_lazy_name_of_the_api_resolves():
    for name in api._LAZY:
        assert getattr(api, name) is not None, name
