"""Long closes from the portal: a background thread per job, its progress polled by the page.

A job runs one ledger writer (``close run`` or ``close lock``) in its own write
transaction, exactly as the CLI does; the page polls ``/api/jobs/{id}`` for the
messages ``run_close`` reports. Jobs live in this server process's memory.
"""

from __future__ import annotations

import itertools
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
