"""An installed wheel works outside the source tree: statements and the reconciliation PDF render.

Builds the wheel from a copy of the package (no network: the dev extra's
setuptools, no build isolation), installs it with ``--no-deps`` into a fresh
venv whose only view of the dependencies is a ``.pth`` line naming this venv's
site-packages (no ``.pth`` files there are run, so the editable install's hook
that maps ``compengine`` to the source tree stays off), and from a temporary
folder imports the example company, closes and locks a month, renders its
statements and writes the reconciliation as PDF and HTML.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, f"{' '.join(args)}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res


def test_wheel_renders_statements_and_reports_outside_the_tree(tmp_path):
    from pypdf import PdfReader

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPENGINE_", "PYTHON"))}
    # 1. the wheel, built from a copy holding only what the package needs (no statements/ at the top)
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "compengine", src / "compengine", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
          "--disable-pip-version-check", "-w", str(dist)], tmp_path, env)
    [wheel] = dist.glob("compengine-*.whl")

    # 2. a fresh venv that sees the dependencies but not the source tree
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    py = target / "bin" / "python"
    purelib = Path(subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                           text=True).strip())
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
          "--disable-pip-version-check", str(wheel)], tmp_path, env)
    work = tmp_path / "work"
    work.mkdir()
    where = _run([str(py), "-c", "import compengine.statements as s; print(s.__file__); print(s.default_templates_dir())"],
                 work, env).stdout.split()
    assert all(str(purelib) in w and str(REPO) not in w for w in where), where

    # 3. the monthly close, from a folder outside the repository
    # the demo outside a checkout: the example plans ship in the package (compengine/sample_plans)
    demo = _run([str(target / "bin" / "compengine"), "demo", "--reps", "12", "--deals", "150", "--months", "2",
                 "--out", "demo-out", "--jobs", "1"], work, env)
    assert (work / "demo-out" / "compengine.db").is_file(), demo.stdout + demo.stderr
    assert not (work / "plans").exists()
    cli = [str(target / "bin" / "compengine"), "--db", f"sqlite:///{work / 'ledger.db'}"]
    _run([*cli, "import", str(REPO / "examples" / "acme"), "--plans", str(REPO / "plans")], work, env)
    _run([*cli, "close", "run", "2026-01", "--through", "2026-10"], work, env)
    _run([*cli, "close", "lock", "2026-01", "--through", "2026-10"], work, env)
    _run([*cli, "config", "set", "company", "Wheel Test Inc."], work, env)
    res = _run([*cli, "statements", "2026-10", "--jobs", "1", "--out", "st"], work, env)
    assert "5 rendered" in res.stdout and res.stderr == ""
    _run([*cli, "reconcile", "2026-10", "--out", "r.pdf"], work, env)
    _run([*cli, "reconcile", "2026-10", "--out", "r.html"], work, env)

    pdfs = sorted((work / "st").glob("statement-2026-10-*.pdf"))
    assert len(pdfs) == 5
    for pdf in (*pdfs[:2], work / "r.pdf"):
        reader = PdfReader(str(pdf))
        assert len(reader.pages) >= 1
    assert "Wheel Test Inc. · Commission statement" in PdfReader(str(pdfs[0])).pages[0].extract_text()
    assert "Commission reconciliation" in PdfReader(str(work / "r.pdf")).pages[0].extract_text()
    assert "<style>" in (work / "r.html").read_text() and sorted(p.name for p in work.iterdir() if p.name != "demo-out") == [
        "ledger.db", "r.html", "r.pdf", "st"]

    # 4. the portal's templates and static files come from the installed package
    portal = (
        "import warnings; warnings.simplefilter('ignore')\n"
        "from starlette.testclient import TestClient\n"
        "import compengine.web as w\n"
        "from compengine.ledger import open_ledger\n"
        "from compengine.web.app import create_app\n"
        "c = TestClient(create_app(open_ledger('sqlite:///ledger.db')))\n"
        "print(w.__file__, c.get('/login').status_code, c.get('/static/portal.css').status_code,"
        " c.get('/static/portal.js').status_code, 'Sign in' in c.get('/login').text)\n"
    )
    out = _run([str(py), "-c", portal], work, env).stdout.split()
    assert str(purelib) in out[0] and out[1:] == ["200", "200", "200", "True"], out
