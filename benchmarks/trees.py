"""Another commit's code beside this tree's, for the benchmarks that compare with a base commit
(``bench_close_compare.py``, ``check_identical.py``, ``bench_statement_phases.py --base``)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The head of the code a fresh interpreter runs (``python -c``) to import compengine from ``tree`` (a variable
# the code sets first), not from the venv's editable install, whose import hook would win over sys.path.
USE_TREE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in (repr(f) + getattr(f, "__name__", "")
                                                                    + type(f).__module__).lower()]
sys.path.insert(0, tree)
"""


@contextmanager
def checkout(commit: str, folder: Path) -> Iterator[Path]:
    """``commit``'s files in ``folder`` (a detached git worktree of this repository), removed afterwards."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit], cwd=REPO, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=REPO, capture_output=True)


@contextmanager
def beside(commit: str, prefix: str) -> Iterator[tuple[Path, Path]]:
    """(a temporary folder, ``commit``'s files in its ``base`` subfolder: :func:`checkout`), both removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as tmp, \
            checkout(commit, Path(tmp) / "base") as base:
        yield Path(tmp), base
