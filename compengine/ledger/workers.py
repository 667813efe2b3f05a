"""A big month calculated in worker processes while this process stores the lines.

The close's transaction belongs to this process, and SQLite has one writer, so the
rows are written here. The engine's work is what is shared out: ``workers`` forked
processes each calculate one part of the month's reps
(:func:`compengine.engine.pipeline.iter_period_part`) and stream their payout
lines, already encoded as ``payout_lines`` rows, back through a pipe; this process
inserts each batch as it arrives (executemany on SQLite, COPY on PostgreSQL). On
two cores the insert of one batch overlaps the calculation of the next.

The workers inherit the loaded inputs by ``fork`` (nothing is sent to them), never
touch the database connection, and leave with ``os._exit``. A worker that fails
sends its error and this process raises it: the caller's transaction rolls back
and nothing is written. The results come back without a Python object per line:
each rep's lines are its stored rows, kept as the marshalled frames they came in and
decoded when first read (:class:`StoredLines` over :class:`FrameSlice`); the rows themselves are freed once
stored, so the memory of the month's two million tuples is reused batch after batch.
Same lines, same order, same totals as one process (``tests/test_close_workers.py``
compares both, row by row).
"""

from __future__ import annotations

import bisect
import marshal
import os
import pickle
import selectors
import signal
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from decimal import localcontext
from typing import Any

from compengine.core.errors import CompErrors
from compengine.core.money import CONTEXT
from compengine.engine.records import LazyLines, Line, PeriodResult, RepResult
from compengine.ledger import codec
from compengine.ledger.codec import LINE_SHAPES, decode_shaped, shaped_batches

FRAME_ROWS = 20_000  # rows per message: big enough to amortise marshalling, small enough to overlap
_HEADER = struct.Struct("!QB")  # payload length, frame type


def can_fork() -> bool:
    return hasattr(os, "fork")


class StoredLines(LazyLines):
    """A rep's payout lines as the rows sent for storing (see ``codec.LINE_SHAPES``), one sequence of rows per
    shape (a list, or the rows' place in the frames they came in: :class:`FrameSlice`), decoded into
    :class:`Line` (in seq order) the first time they are read."""

    __slots__ = ("_period", "_rows", "_lines_")

    def __init__(self, period: str, rows: tuple[Sequence[tuple] | FrameSlice, ...]) -> None:
        self._period = period
        self._rows: tuple[Sequence[tuple] | FrameSlice, ...] | None = rows
        self._lines_: list[Line] | None = None

    def _lines(self) -> list[Line]:
        if self._lines_ is None:
            assert self._rows is not None
            self._lines_ = decode_shaped(self._period, self._rows)
            self._rows = None
        return self._lines_

    def __len__(self) -> int:
        if self._rows is not None:
            return sum(len(rows) for rows in self._rows)
        return len(self._lines())

    def __repr__(self) -> str:
        return f"StoredLines({len(self)} lines)"


def store_rep_by_rep(reps: Iterable[RepResult], pstr: str, null: object, store: Callable[[int, list[tuple]], int],
                     size: int = 20_000) -> tuple[list[RepResult], int]:
    """Encode each rep's lines as its result comes (``codec.shaped_line_rows``), ``store(shape, rows)`` them in
    batches of about ``size`` rows, and keep the rep's result with its lines as those rows
    (:class:`StoredLines`): no :class:`Line` of the month outlives its rep. The batches are exactly
    those of :func:`codec.shaped_batches` (same rows, same order, so the same row ids). Returns the
    results and the number of rows stored. (The close in one process: ``executors.LocalExecutor``.)"""
    batches: list[list[tuple]] = [[] for _ in LINE_SHAPES]
    out: list[RepResult] = []
    count = 0
    for r in reps:
        shaped = codec.shaped_line_rows(r.lines, pstr, null)
        out.append(replace(r, lines=StoredLines(pstr, shaped)))  # type: ignore[arg-type]
        for shape, rows in enumerate(shaped):
            batch = batches[shape]
            batch.extend(rows)
            if len(batch) >= size:
                count += store(shape, batch)
                batches[shape] = []  # the store may keep the batch it was given
    for shape, batch in enumerate(batches):
        if batch:
            count += store(shape, batch)
    return out, count


_PICKLED = 255  # frame type of a pickled message; 0-2 are rows of a shape, marshalled


def _write_frame(fd: int, kind: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload), kind) + payload)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 22))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> tuple[int, Any] | None:
    """(frame type, payload): a pickled message unpickled; rows as their marshalled bytes (``marshal.loads``:
    rows are tuples of str, int and None, which marshal 4 writes and reads faster than pickle 5 or marshal 3;
    benchmarks/RESULTS.md, 2026-12-02)."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    size, kind = _HEADER.unpack(head)
    data = _read_exact(fd, size)
    if data is None:
        return None
    return kind, (pickle.loads(data) if kind == _PICKLED else data)


class FrameStream:
    """One worker's rows of one shape, kept as the marshalled frames they came in (a quarter of the memory of
    the rows, and none of the cost of keeping two million tuples alive while more arrive); rows are read back
    by their position in the stream, a frame decoded at a time (the last one kept: reps are read in order)."""

    __slots__ = ("_cache", "ends", "frames")

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.ends: list[int] = []  # the stream position after each frame
        self._cache: tuple[int, list[tuple]] = (-1, [])  # (frame index, its rows): one assignment, thread-safe

    def add(self, data: bytes, count: int) -> None:
        self.frames.append(data)
        self.ends.append((self.ends[-1] if self.ends else 0) + count)

    def rows(self, start: int, end: int) -> list[tuple]:
        """Rows ``start`` to ``end`` (exclusive) of the stream."""
        out: list[tuple] = []
        i = bisect.bisect_right(self.ends, start)
        while start < end:
            at, rows = self._cache
            if at != i:
                rows = marshal.loads(self.frames[i])
                self._cache = (i, rows)
            first = self.ends[i] - len(rows)
            take = rows[start - first:min(end, self.ends[i]) - first]
            out += take
            start += len(take)
            i += 1
        return out


class FrameSlice:
    """Rows ``start`` to ``end`` of a :class:`FrameStream`: one shape of a rep's rows as :class:`StoredLines` reads
    them (its length, and its rows once, when the lines are decoded), without the rows living meanwhile."""

    __slots__ = ("end", "start", "stream")

    def __init__(self, stream: FrameStream, start: int, end: int) -> None:
        self.stream, self.start, self.end = stream, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.stream.rows(self.start, self.end))


def _work(inputs: Any, pstr: str, null: object, part: tuple[int, int], fd: int) -> None:
    """In the forked worker: calculate a part, stream its rows, send the results. Never returns."""
    code = 1
    try:
        exceptions: list[str] = []
        summaries: list[RepResult] = []
        counts: list[tuple[int, ...]] = []

        def results() -> Iterator[RepResult]:
            for r in inputs.iter_part(exceptions, part):
                yield r
                summaries.append(replace(r, lines=[]))  # its lines are encoded by now

        with localcontext(CONTEXT):
            for shape, rows in shaped_batches(results(), pstr, null, FRAME_ROWS, counts):
                _write_frame(fd, shape, marshal.dumps(rows))
        message = ("done", list(zip(summaries, counts)), exceptions)
        _write_frame(fd, _PICKLED, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        code = 0
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            _write_frame(fd, _PICKLED, pickle.dumps(("error", f"{type(e).__name__}: {e}")))
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def calculate_and_store(
    inputs: Any,
    pstr: str,
    workers: int,
    null: object,
    store: Callable[[int, list[tuple]], int],
) -> tuple[PeriodResult, int]:
    """Calculate ``inputs`` (a ``LedgerInputs``) in ``workers`` processes; ``store(shape, rows)``
    each batch of rows here as it arrives. Returns the month's result and the number of rows stored.
    Empties ``inputs.credits`` and ``inputs.ytd_credits`` here once the workers have them."""
    pids: list[int] = []
    fds: dict[int, int] = {}
    reaped: set[int] = set()
    try:
        for i in range(workers):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(r)
                for other in fds:
                    os.close(other)
                _work(inputs, pstr, null, (i, workers), w)
            os.close(w)
            pids.append(pid)
            fds[r] = i
        # the workers have the month's credits (fork copied them); here they would only hold memory while the
        # rows come in (freed while the workers start, the room is reused for the rows)
        inputs.credits, inputs.ytd_credits = [], []
        # the rows are stored as they come and kept as their frames, for the result's lines (FrameSlice)
        streams = [tuple(FrameStream() for _ in LINE_SHAPES) for _ in range(workers)]
        done: list[tuple | None] = [None] * workers
        count = 0
        sel = selectors.DefaultSelector()
        for fd, i in fds.items():
            sel.register(fd, selectors.EVENT_READ, i)
        remaining = workers
        while remaining:
            for key, _ in sel.select():
                i = key.data
                frame = _read_frame(key.fd)
                if frame is None:
                    raise CompErrors(f"calculation worker {i + 1} of {workers} ended without its results; nothing was stored")
                kind, payload = frame
                if kind == _PICKLED:
                    if payload[0] == "error":
                        raise CompErrors(f"calculation worker {i + 1} of {workers} failed: {payload[1]}; nothing was stored")
                    done[i] = payload[1:]
                    sel.unregister(key.fd)
                    remaining -= 1
                else:
                    rows = marshal.loads(payload)
                    count += store(kind, rows)
                    streams[i][kind].add(payload, len(rows))
                    del rows
        sel.close()
        for pid in pids:
            os.waitpid(pid, 0)
            reaped.add(pid)
        reps: list[RepResult] = []
        exceptions: list[str] = []
        for i in range(workers):
            summaries, part_exceptions = done[i]  # type: ignore[misc]
            exceptions.extend(part_exceptions)
            at = [0] * len(LINE_SHAPES)
            for summary, counts in summaries:
                slices = []
                for shape, n in enumerate(counts):
                    slices.append(FrameSlice(streams[i][shape], at[shape], at[shape] + n))
                    at[shape] += n
                summary.lines = StoredLines(pstr, tuple(slices))  # type: ignore[assignment]
                reps.append(summary)
        return PeriodResult(pstr, reps, exceptions), count
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        for pid in pids:
            if pid in reaped:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
