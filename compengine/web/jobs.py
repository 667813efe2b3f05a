"""Long closes from the portal: a background job per close, its progress polled by the page.

A job runs one ledger writer (``close run`` or ``close lock``) in its own write
transaction, exactly as the CLI does, in a separate process (:func:`close_in_process`)
so that a close of millions of lines does not share the server's interpreter lock with
the pages being read meanwhile; a thread of the server relays its progress messages.
The page polls ``/api/jobs/{id}``. Jobs live in this server process's memory.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue as queue_mod
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from compengine.core.errors import CompErrors


@dataclass
class Job:
    id: int
    what: str
    user: str
    state: str = "running"  # running | done | failed
    messages: list[str] = field(default_factory=list)
    result: str = ""
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def say(self, message: str) -> None:
        self.messages.append(message)
        del self.messages[:-50]

    def as_dict(self) -> dict:
        return {"id": self.id, "what": self.what, "user": self.user, "state": self.state,
                "progress": self.messages[-1] if self.messages else "", "messages": list(self.messages),
                "result": self.result, "error": self.error,
                "seconds": round((self.finished or time.time()) - self.started, 1)}


def _close_child(url: str, action: str, period: str, actor: str, allow_open: bool, accept: str | None,
                 out: multiprocessing.Queue) -> None:
    """In the child process: one close run or lock on its own connection; messages back on ``out``."""
    from compengine.core.periods import Period
    from compengine.ledger.close import lock_period, run_close
    from compengine.ledger.db import open_ledger, transaction
    from compengine.core.currency import format_money

    try:
        engine = open_ledger(url)
        p = Period.parse(period)
        with transaction(engine, what=f"close {action} {period} by {actor}") as s:
            if action == "run":
                res = run_close(s, p, actor, progress=lambda m: out.put(("say", m)))
                text = f"{period} calculated: {len(res.reps)} reps, total payout {format_money(res.total_payout)}"
            else:
                row = lock_period(s, p, actor, allow_open_disputes=allow_open, accept_exceptions=accept)
                text = f"{period} locked by {row.locked_by}"
        engine.dispose()
        out.put(("done", text))
    except CompErrors as exc:
        out.put(("failed", "; ".join(str(e) for e in exc.errors) or str(exc)))
    except Exception as exc:  # noqa: BLE001 - shown to the user, logged to stderr
        traceback.print_exc()
        out.put(("failed", f"{type(exc).__name__}: {exc}"))


def close_in_process(url: str, action: str, period: str, actor: str, *, allow_open: bool = False,
                     accept: str | None = None) -> Callable[[Job], str]:
    """A job's work: the close in a spawned process (a fresh interpreter: nothing of the server's
    threads is inherited), its progress relayed to the job; returns the result or raises CompErrors."""

    def work(job: Job) -> str:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        proc = ctx.Process(target=_close_child, args=(url, action, period, actor, allow_open, accept, out), daemon=True)
        proc.start()
        try:
            while True:
                try:
                    kind, text = out.get(timeout=0.5)
                except queue_mod.Empty:
                    if not proc.is_alive():
                        raise CompErrors(f"the close process ended without a result (exit code {proc.exitcode})") from None
                    continue
                if kind == "say":
                    job.say(text)
                elif kind == "done":
                    return text
                else:
                    raise CompErrors(text)
        finally:
            proc.join(30)

    return work


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, what: str, user: str, work: Callable[[Job], str]) -> Job:
        with self._lock:
            job = Job(next(self._ids), what, user)
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = work(job)
                job.state = "done"
            except CompErrors as exc:
                job.error, job.state = "; ".join(str(e) for e in exc.errors) or str(exc), "failed"
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged to stderr
                traceback.print_exc()
                job.error, job.state = f"{type(exc).__name__}: {exc}", "failed"
            finally:
                job.finished = time.time()

        threading.Thread(target=run, name=f"compengine-job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def recent(self, n: int = 10) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: -j.id)[:n]

    def wait(self, job_id: int, timeout: float = 60) -> Job | None:
        end = time.time() + timeout
        job = self.get(job_id)
        while job is not None and job.state == "running" and time.time() < end:
            time.sleep(0.02)
        return job
