"""Where a close calculates: this machine's processes, or a Dask distributed cluster.

A :class:`CloseExecutor` calculates a month's loaded inputs and hands each batch of
encoded payout-line rows to ``store`` in the closing process, which alone writes
(executemany on SQLite, COPY on PostgreSQL) inside its one transaction holding the
writer lock. Chosen by a spec (``compengine close run P --executor SPEC``, else
``COMPENGINE_CLOSE_EXECUTOR``, else ``local``):

``local[:N]``
    This machine (the default): in this process, or in N forked processes that stream
    their rows back through pipes (``ledger.workers``). Measured faster than a Dask
    cluster on one machine (benchmarks/RESULTS.md, "Scale-out"): nothing is read twice.
``local-dask[:N]``
    A Dask distributed ``LocalCluster`` of N worker processes (default 2), started for
    the close and stopped after it: the distributed path on one machine.
``dask://HOST:PORT``
    An existing Dask scheduler (``dask scheduler``) and its workers (``dask worker
    tcp://HOST:PORT``), each with compengine installed and reaching the database.

On Dask the month is cut into partitions by manager tree (:func:`partition_reps`): a
manager's subtree stays in one partition unless it is heavier than a partition's share,
so roll-up overrides of several levels are priced where their reports' credits are
read. Each partition is a task: the worker opens the ledger read-only
(``COMPENGINE_WORKER_DB``, default the ledger's URL), on PostgreSQL in a transaction on
the closing transaction's exported snapshot (``pg_export_snapshot``, ``SET TRANSACTION
SNAPSHOT``: exactly what the close saw), on SQLite on the file's last commit (the
writer lock is held meanwhile, so nothing else commits); it loads the credits of the
partition's reps and of the reports their overrides read (``inputs.override_readers``),
calculates only the partition's reps with the pure engine
(``LedgerInputs.iter_part(..., only=reps)``) and returns their rows. The month's late-change
adjustments and cancellations, derived by the closing process, travel with each task.
Partitions: ``COMPENGINE_DASK_PARTITIONS`` (default one per worker). A failed partition
fails the close: its transaction rolls back and nothing is written. Same lines, row for
row, as one process (``tests/test_close_executors.py``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import localcontext
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import CONTEXT
from compengine.core.periods import Period
from compengine.engine.pipeline import Cancellation, gc_paused
from compengine.engine.records import Adjustment, PeriodResult, Rep, RepResult
from compengine.ledger.codec import LINE_SHAPES, shaped_batches
from compengine.ledger.db import WRITER_CACHE, make_engine, transaction
from compengine.ledger.inputs import LedgerInputs, load_inputs, override_reach, override_readers
from compengine.ledger.models import DealRow, SplitRow
from compengine.ledger.workers import FRAME_ROWS, StoredLines, calculate_and_store, can_fork, store_rep_by_rep

Store = Callable[[int, list[tuple]], int]
Say = Callable[[str], None]
PARALLEL_MIN_CREDITS = 50_000  # below this a month calculates faster in one process than it forks
ENV_EXECUTOR = "COMPENGINE_CLOSE_EXECUTOR"
ENV_WORKER_DB = "COMPENGINE_WORKER_DB"
ENV_PARTITIONS = "COMPENGINE_DASK_PARTITIONS"
SPECS = "local[:N], local-dask[:N] or dask://HOST:PORT"


def close_workers(requested: int | None, credit_lines: int) -> int:
    """How many worker processes calculate a local close: ``requested`` if given, else the
    ``COMPENGINE_CLOSE_WORKERS`` environment variable, else 2 for a month of at least
    :data:`PARALLEL_MIN_CREDITS` credit lines on a machine with two or more cores, else 1
    (1 = calculate in this process). Without ``fork`` (Windows) always 1; the automatic
    choice is made on Linux only (elsewhere ask for workers explicitly)."""
    if not can_fork():
        return 1
    if requested is None:
        env = os.environ.get("COMPENGINE_CLOSE_WORKERS", "").strip()
        if env:
            if not env.isdigit() or int(env) < 1:
                raise CompErrors(f"COMPENGINE_CLOSE_WORKERS must be a whole number of at least 1, not {env!r}")
            requested = int(env)
        else:
            big = credit_lines >= PARALLEL_MIN_CREDITS and (os.cpu_count() or 1) >= 2
            requested = 2 if big and sys.platform.startswith("linux") else 1
    return max(1, requested)


class CloseExecutor:
    """Calculates a month's inputs and stores the rows through ``store``; see the module docstring."""

    spec = "local"
    distributed = False  # True: the workers read the month's credits themselves (the close loads none)

    def calculate_and_store(self, session: Session, inputs: LedgerInputs, pstr: str, null: object, store: Store,
                            say: Say, workers: int | None = None) -> tuple[PeriodResult, int]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started (a local cluster)."""

    def __enter__(self) -> CloseExecutor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class LocalExecutor(CloseExecutor):
    """This process, or forked processes streaming rows through pipes (``ledger.workers``)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.spec = "local" if workers is None else f"local:{workers}"

    def calculate_and_store(self, session: Session, inputs: LedgerInputs, pstr: str, null: object, store: Store,
                            say: Say, workers: int | None = None) -> tuple[PeriodResult, int]:
        n = close_workers(workers if workers is not None else self.workers, len(inputs.credits))
        if n > 1:
            say(f"calculating {len(inputs.credits):,} credit lines in {n} worker processes, storing lines as they come")
            return calculate_and_store(inputs, pstr, n, null, store)
        # rep by rep: each rep's lines are encoded and batched for the store as soon as they are made, and its
        # result keeps them as those rows (StoredLines; the forked workers' results keep theirs as the frames
        # they came in, FrameSlice): a month's Line objects never all live at once (issue 14: the close's memory)
        say(f"calculating {len(inputs.credits):,} credit lines, storing lines as they come")
        exceptions: list[str] = []
        with localcontext(CONTEXT), gc_paused():
            reps, count = store_rep_by_rep(inputs.iter_part(exceptions), pstr, null, store)
        return PeriodResult(pstr, reps, exceptions), count


# ------------------------------------------------------------------ choosing one


_DASK_URL = re.compile(r"^dask://(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")


def parse_executor(spec: str | None) -> CloseExecutor:
    """The executor a spec names (``None``: ``COMPENGINE_CLOSE_EXECUTOR``, else ``local``)."""
    where = "--executor"
    if spec is None:
        spec = os.environ.get(ENV_EXECUTOR, "").strip() or "local"
        where = ENV_EXECUTOR
    spec = spec.strip()
    name, _, count = spec.partition(":")
    if name in ("local", "local-dask") and not spec.startswith("dask://"):
        n = None
        if count or spec.endswith(":"):
            if not count.isdigit() or int(count) < 1:
                raise CompErrors(f"{where} {spec!r}: the number of workers must be a whole number of at least 1")
            n = int(count)
        return LocalExecutor(n) if name == "local" else DaskExecutor(n_workers=n or 2)
    m = _DASK_URL.match(spec)
    if m is not None:
        if not 0 < int(m["port"]) < 65536:
            raise CompErrors(f"{where} {spec!r}: the port must be between 1 and 65535")
        return DaskExecutor(address=f"tcp://{m['host']}:{int(m['port'])}")
    raise CompErrors(f"{where} {spec!r} is not a close executor: use {SPECS}")


def as_executor(executor: CloseExecutor | str | None) -> tuple[CloseExecutor, bool]:
    """(the executor, whether the caller made it and so closes it)."""
    if isinstance(executor, CloseExecutor):
        return executor, False
    return parse_executor(executor), True


# ------------------------------------------------------------------ partitions


def partition_reps(universe: Iterable[str], rep_versions: Mapping[str, list[Rep]], weight: Mapping[str, int],
                   parts: int) -> list[list[str]]:
    """Cut the reps into at most ``parts`` partitions of about equal weight (1 + the rep's credit
    lines), by manager tree: each manager's subtree (its reports in any version, down to the leaves)
    stays whole unless it weighs more than a partition's share, when the manager goes alone and its
    reports' subtrees are cut in turn. Whatever the cut, results are the same (a partition reads
    the credits its overrides need); keeping subtrees whole keeps those reads inside it."""
    reps = set(universe)
    children: dict[str, set[str]] = defaultdict(set)
    has_manager: set[str] = set()
    for r, vs in rep_versions.items():
        for v in vs:
            if v.manager_id and v.manager_id != r and r in reps and v.manager_id in reps:
                children[v.manager_id].add(r)
                has_manager.add(r)
    # a spanning forest (a rep with several managers over its versions goes under the first reached)
    forest: dict[str, list[str]] = {}
    order: list[str] = []
    seen: set[str] = set()

    def grow(root: str) -> None:
        stack = [root]
        seen.add(root)
        while stack:
            node = stack.pop()
            order.append(node)
            kids = [c for c in sorted(children.get(node, ())) if c not in seen]
            seen.update(kids)
            forest[node] = kids
            stack.extend(reversed(kids))

    roots = sorted(r for r in reps if r not in has_manager)
    for r in roots:
        grow(r)
    for r in sorted(reps - seen):  # cycles of managers over versions: start anywhere
        if r not in seen:
            roots.append(r)
            grow(r)
    sub: dict[str, int] = {}
    for node in reversed(order):  # children before parents
        sub[node] = 1 + weight.get(node, 0) + sum(sub[c] for c in forest[node])
    total = sum(sub[r] for r in roots)
    share = max(1, -(-total // max(1, parts)))
    units: list[tuple[int, list[str]]] = []

    def members(node: str) -> list[str]:
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(forest[n])
        return out

    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        if sub[node] <= share or not forest[node]:
            units.append((sub[node], members(node)))
        else:
            units.append((1 + weight.get(node, 0), [node]))
            stack.extend(reversed(forest[node]))
    bins: list[tuple[int, list[str]]] = [(0, []) for _ in range(max(1, parts))]
    for w, unit in sorted(units, key=lambda u: (-u[0], min(u[1]))):
        i = min(range(len(bins)), key=lambda k: (bins[k][0], k))
        bins[i] = (bins[i][0] + w, bins[i][1] + unit)
    return [sorted(b) for _, b in bins if b]


def _month_weights(session: Session, pstr: str) -> dict[str, int]:
    """Each rep's credit lines of the month, about: deals owned plus current splits (and every rep
    a credit of the month names, so each lands in a partition)."""
    out: dict[str, int] = defaultdict(int)
    for rep_id, n in session.execute(select(DealRow.owner_id, func.count()).where(DealRow.close_period == pstr)
                                     .group_by(DealRow.owner_id)):
        out[rep_id] += n
    for rep_id, n in session.execute(select(SplitRow.rep_id, func.count()).join(DealRow, DealRow.deal_id == SplitRow.deal_id)
                                     .where(DealRow.close_period == pstr, SplitRow.superseded_at.is_(None))
                                     .group_by(SplitRow.rep_id)):
        out[rep_id] += n
    return out


# ------------------------------------------------------------------ the task a Dask worker runs


@dataclass(frozen=True)
class PartitionTask:
    """What a worker needs to calculate one partition (pickled to it)."""

    index: int
    of: int
    db_url: str
    snapshot: str | None  # PostgreSQL: the closing transaction's exported snapshot
    period: str
    plan_version_ids: dict[str, int]
    reps: tuple[str, ...]  # the reps calculated here
    reading: tuple[str, ...]  # the reps whose credits are read (those and their overrides' reports)
    adjustments: tuple[Adjustment, ...]  # the month's, late-change lines included (all: indices order exceptions)
    cancellations: tuple[Cancellation, ...]
    null: object


_ENGINES: dict[str, Any] = {}


def _worker_engine(url: str) -> Any:
    engine = _ENGINES.get(url)
    if engine is None:
        # a worker reads the month's deals again for each partition it calculates: the big page cache
        engine = _ENGINES[url] = make_engine(url).execution_options(compengine_cache=WRITER_CACHE)
    return engine


def close_partition(task: PartitionTask) -> tuple[int, list[tuple[RepResult, tuple[int, ...], list[str]]],
                                                   tuple[list[tuple], ...], list[tuple[tuple, str]]]:
    """On a worker: read a partition's inputs, calculate its reps, return (index, each rep's result
    without lines with its row count per shape and its exceptions, the rows per shape, the month's
    exceptions of these reps keyed for ordering). Reads only; never writes."""
    period = Period.parse(task.period)
    with transaction(_worker_engine(task.db_url), write=False) as session:
        if task.snapshot is not None:
            session.connection().exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{task.snapshot}'")
        inputs = load_inputs(session, period, task.plan_version_ids, reading=task.reading)
    reading = set(task.reading)
    inputs.credits = [c for c in inputs.credits if c.rep_id in reading]
    inputs.ytd_credits = [c for c in inputs.ytd_credits if c.rep_id in reading]
    # the month's adjustments (late changes included) and cancellations as the closing process derived them
    inputs.adjustments, inputs.cancellations = list(task.adjustments), list(task.cancellations)
    exceptions: list[str] = []
    keyed: list[tuple[tuple, str]] = []
    summaries: list[tuple[RepResult, tuple[int, ...], list[str]]] = []
    counts: list[tuple[int, ...]] = []
    rows: tuple[list[tuple], ...] = tuple([] for _ in LINE_SHAPES)

    def results() -> Iterator[RepResult]:
        at = 0
        # through LedgerInputs.iter_part: whatever else the month's calculation reads comes along
        for r in inputs.iter_part(exceptions, only=task.reps, keyed_exceptions=keyed):
            yield r
            summaries.append((replace(r, lines=[]), (), exceptions[at:]))
            at = len(exceptions)

    with gc_paused(), localcontext(CONTEXT):
        for shape, batch in shaped_batches(results(), task.period, task.null, FRAME_ROWS, counts):
            rows[shape].extend(batch)
    return task.index, [(s, c, e) for (s, _, e), c in zip(summaries, counts)], rows, keyed


# ------------------------------------------------------------------ the Dask executor


class DaskExecutor(CloseExecutor):
    """Partitions of the month calculated as tasks on a Dask distributed cluster."""

    distributed = True

    def __init__(self, address: str | None = None, n_workers: int = 2) -> None:
        self.address = address
        self.n_workers = n_workers
        self.spec = f"dask://{address.removeprefix('tcp://')}" if address else f"local-dask:{n_workers}"
        self.connect_timeout = 10.0  # seconds to reach a scheduler
        self._client: Any = None
        self._cluster: Any = None

    def client(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise CompErrors(f"--executor {self.spec} needs Dask distributed: pip install 'compengine[dask]'") from None
        try:
            if self.address is None:
                self._cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout=f"{self.connect_timeout}s")
        except (OSError, TimeoutError) as exc:
            self.close()
            raise CompErrors(f"cannot reach the Dask scheduler of {self.spec}: {_one_line(exc)}") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def partitions(self, client: Any) -> int:
        raw = os.environ.get(ENV_PARTITIONS, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise CompErrors(f"{ENV_PARTITIONS} must be a whole number of at least 1, not {raw!r}")
            return int(raw)
        return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})) or self.n_workers)

    def calculate_and_store(self, session: Session, inputs: LedgerInputs, pstr: str, null: object, store: Store,
                            say: Say, workers: int | None = None) -> tuple[PeriodResult, int]:
        client = self.client()
        n_parts = self.partitions(client)
        weights = _month_weights(session, pstr)
        universe = (set(inputs.rep_versions) | set(inputs.reps) | set(inputs.assignments) | set(weights)
                    | {x.rep_id for x in inputs.cancellations} | {a.rep_id for a in inputs.adjustments})
        parts = partition_reps(universe, inputs.rep_versions, weights, n_parts)
        depth, _ = override_reach(inputs.plans)
        conn = session.connection()
        snapshot = None
        if conn.dialect.name == "postgresql":
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        elif conn.dialect.name != "sqlite":
            raise CompErrors(f"--executor {self.spec}: workers read SQLite or PostgreSQL ledgers, not {conn.dialect.name}")
        url = os.environ.get(ENV_WORKER_DB, "").strip() or session.get_bind().url.render_as_string(hide_password=False)
        if url.startswith("sqlite") and (url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url):
            raise CompErrors(f"--executor {self.spec}: an in-memory SQLite ledger cannot be read by workers; use a file")
        adjustments, cancellations = tuple(inputs.adjustments), tuple(inputs.cancellations)
        tasks = [PartitionTask(i, len(parts), url, snapshot, pstr, dict(inputs.plan_version_ids), tuple(p),
                               tuple(sorted(override_readers(p, inputs.rep_versions, depth))), adjustments,
                               cancellations, null)
                 for i, p in enumerate(parts)]
        say(f"calculating {sum(weights.values()):,} credit lines in {len(parts)} partitions on {self.spec}, "
            "storing lines as they come")
        from distributed import as_completed

        futures = client.map(close_partition, tasks, pure=False)
        count = 0
        reps: list[RepResult] = []
        keyed: list[tuple[tuple, str]] = []
        rep_exceptions: dict[str, list[str]] = {}
        try:
            for future in as_completed(futures):
                if future.status == "error":
                    i = futures.index(future)
                    raise CompErrors(f"close partition {i + 1} of {len(parts)} failed on {self.spec}: "
                                     f"{_one_line(future.exception())}; nothing was stored")
                _i, summaries, rows, part_keyed = future.result()
                future.release()
                for shape, shape_rows in enumerate(rows):
                    for k in range(0, len(shape_rows), FRAME_ROWS):
                        count += store(shape, shape_rows[k:k + FRAME_ROWS])
                at = [0] * len(LINE_SHAPES)
                for summary, counts, errs in summaries:
                    chunks = []
                    for shape, n in enumerate(counts):
                        chunks.append(rows[shape][at[shape]:at[shape] + n])
                        at[shape] += n
                    summary.lines = StoredLines(pstr, tuple(chunks))  # type: ignore[assignment]
                    reps.append(summary)
                    rep_exceptions[summary.rep_id] = errs
                keyed.extend(part_keyed)
        except CompErrors:
            raise
        except Exception as exc:  # noqa: BLE001 - a lost worker, a broken connection: the close fails whole
            raise CompErrors(f"the close on {self.spec} failed: {_one_line(exc)}; nothing was stored") from None
        finally:
            for f in futures:
                if not f.done():
                    f.cancel()
        reps.sort(key=lambda r: r.rep_id)
        exceptions = [text for _, text in sorted(keyed, key=lambda k: k[0])]
        for r in reps:
            exceptions.extend(rep_exceptions[r.rep_id])
        return PeriodResult(pstr, reps, exceptions), count


def _one_line(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return " ".join(text.split())[:500]
