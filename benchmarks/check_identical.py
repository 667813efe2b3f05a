"""Issue 18's last condition: the million-line month's results are byte-identical to before.

    .venv/bin/python benchmarks/check_identical.py [--base 71dc6ac] [--reps 10000 --deals 870000]

Generates the seeded million month (``bench_calc.py --preset million``: 10,000 reps, 870,000 deals in
2026-01), then prints that month with ``compengine calc`` as text (``--lines``) and as ``--json``: with
this tree's default engine (columnar), with its python engine, and with the python engine of ``--base``
(default 71dc6ac, the commit before issue 18's work: the engine as it was), checked out with ``git
worktree`` in a temporary folder. Each output is streamed into SHA-256 (nothing is written to disk);
prints one JSON line per run (bytes, digest, CPU seconds) and exits 1 if any two outputs of one format
differ. The JSON names each line's deal source, a path in the run's temporary folder: its digest is
compared within a run, not across runs (the text's is the same in every run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
from pathlib import Path

from trees import REPO, USE_TREE, beside  # benchmarks/trees.py (a script's folder is on its sys.path)

# Runs compengine's CLI from ``tree`` (trees.USE_TREE).
BOOT = """
import sys
tree, *args = sys.argv[1:]
""" + USE_TREE + """
from compengine.cli import main
sys.argv = ["compengine", *args]
main()
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def digest_of(tree: Path, args: list[str]) -> dict:
    """Run the CLI of ``tree`` with ``args``; the SHA-256 and size of what it prints."""
    h = hashlib.sha256()
    size = 0
    before = children_cpu()
    with subprocess.Popen([sys.executable, "-c", BOOT, str(tree), *args], stdout=subprocess.PIPE, cwd=tree) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: compengine {' '.join(args)} exited with {proc.returncode}")
    return {"bytes": size, "sha256": h.hexdigest(), "cpu_s": round(children_cpu() - before, 1)}


def compare(a: argparse.Namespace, tmp: Path, base: Path) -> bool:
    """The month generated, printed by each code in each format; whether two outputs of a format differ."""
    data = tmp / "data"
    subprocess.run([sys.executable, "-c", BOOT, str(REPO), "generate", str(data), "--reps", str(a.reps), "--deals",
                    str(a.deals), "--months", "1", "--seed", str(a.seed), "--plans", str(REPO / "plans")],
                   check=True, capture_output=True, cwd=REPO)
    calc = ["calc", "--plans", str(data / "plans"), "--data", str(data), "--period", f"{2026}-01"]
    differ = False
    for fmt, extra in (("text", ["--lines"]), ("json", ["--json"])):
        seen: dict[str, dict] = {}
        for name, tree, engine in (("this, columnar", REPO, []), ("this, python", REPO, ["--engine", "python"]),
                                   (f"{a.base}, python", base, [])):
            out = digest_of(tree, calc + extra + engine)
            seen[name] = out
            print(json.dumps({"format": fmt, "code": name, **out}), flush=True)
        same = len({(o["bytes"], o["sha256"]) for o in seen.values()}) == 1
        differ |= not same
        print(json.dumps({"format": fmt, "identical": same}), flush=True)
    return differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="71dc6ac", help="the commit to compare with (default: before issue 18)")
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--deals", type=int, default=870_000)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    with beside(a.base, "check-identical-") as (tmp, base):
        differ = compare(a, tmp, base)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
