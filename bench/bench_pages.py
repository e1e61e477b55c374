"""Benchmark: every page of every role at N/10 and N samples on PostgreSQL, right after a bulk fill and
after VACUUM ANALYZE; then the three busiest pages through gunicorn with wrk on loopback.

    .venv/bin/python bench/bench_pages.py            # quick: 100k then 1M samples
    .venv/bin/python bench/bench_pages.py --full     # 1M then 10M samples (roughly 10 GB of disk; an hour or more)
    .venv/bin/python bench/bench_pages.py --size 200000 --repeat 10 --wsgi-seconds 5

Needs PostgreSQL (--server, default postgres://postgres@127.0.0.1:5432) and creates, then drops, its own
database (--db, default m3it_bench_pages). Autovacuum is switched off on the filled tables so that "right
after the fill" means what it says: the planner sees the statistics of before the fill (none at all for
the first size, those of N/10 for N) until the explicit VACUUM ANALYZE. Rows are written server-side in
chunks (INSERT ... SELECT over generate_series: the same rows COPY would carry, without the Python side),
half of them into vqa-v2/train and the rest spread over every other split, one image link each; the
splits' counters are then rebuilt with `recount` (timed).

Per page: p50 and p95 of --repeat requests through the Django test client in-process (DEBUG off),
queries per request, and the ratio of p95 at N to p95 at N/10 (target: p95 <= 50 ms at 10M, ratio <= 1.2,
queries constant). The WSGI run starts gunicorn (--workers, default 2 = the cores here) with the
production settings and drives each of the three busiest pages with wrk (2 threads, 8 connections,
--wsgi-seconds each), signed in with a session cookie made in-process; without wrk (apt-get install
wrk) a small threaded Python client does the same.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 250_000
BUSIEST = ("reviewer home", "reviewer qc queue", "admin sample list")


def bar(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    print(f"\r  {label:<30} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}", end="", flush=True)
    if done >= total:
        print(flush=True)


def make_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure(database_url: str, workdir: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-pages-" + os.urandom(16).hex(),
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(workdir / "media"),
        "M3IT_VAR_DIR": str(workdir / "var"),
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        # Plain HTTP on loopback: no redirect to https, cookies not marked secure (production keeps them).
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--no-input", verbosity=0)  # DEBUG off: the manifest storage needs it
    return env


# ---- the world: tasks, people, pools, a review, some jobs and exports ---------------------------


class World:
    def __init__(self) -> None:
        from annotator.models import Instruction, Task, TaskSplit
        from annotator.registry import load_tasks
        from pipeline.media.images import store_image
        from tests.factories import AdminFactory, AnnotatorFactory, ReviewerFactory, png_bytes

        load_tasks()
        self.admin = AdminFactory(username="bench-admin")
        self.writer = AnnotatorFactory(username="bench-writer")
        self.reviewer = ReviewerFactory(username="bench-reviewer")
        Task.objects.update(writer=self.writer, reviewer=self.reviewer)
        self.tasks = list(Task.objects.order_by("pk"))
        Instruction.objects.bulk_create(
            Instruction(task=t, text=f"Instruction {i} for {t.slug}.", normalized=f"instruction {i} for {t.slug}.",
                        position=i, author=self.writer)
            for t in self.tasks for i in range(10)
        )  # fmt: skip
        self.first_instruction = {
            t.pk: min(Instruction.objects.filter(task=t).values_list("pk", flat=True)) for t in self.tasks
        }
        self.images = [store_image(png_bytes((i * 5 % 256, 90, 120), size=(64, 48))).pk for i in range(50)]
        self.big = TaskSplit.objects.get(task__slug="vqa-v2", split="train")
        self.others = list(TaskSplit.objects.exclude(pk=self.big.pk).order_by("pk"))
        self.filled = 0
        self.review = None

    def fill(self, upto: int) -> float:
        """Add samples until there are `upto`; returns seconds."""
        from django.db import connection

        start = time.perf_counter()
        task_ids = ",".join(str(ts.task_id) for ts in self.others)
        splits = ",".join(f"'{ts.split}'" for ts in self.others)
        firsts = ",".join(str(self.first_instruction[ts.task_id]) for ts in self.others)
        k = len(self.others)
        big_first = self.first_instruction[self.big.task_id]
        images = ",".join(map(str, self.images))
        big_task, big_split = self.big.task_id, self.big.split
        states = "(ARRAY['pending','not_needed','accepted','fallback','pending','not_needed'])[1 + (g %% 6)]"
        with connection.cursor() as cursor:
            for lo in range(self.filled + 1, upto + 1, CHUNK):
                hi = min(lo + CHUNK - 1, upto)
                cursor.execute(
                    f"""
                    WITH new AS (
                        INSERT INTO pipeline_sample (task_id, split, source_id, instruction_id, instruction_seed,
                            inputs, outputs, original_output, meta, paraphrase_state, paraphrase, qc_state,
                            created_at, updated_at)
                        SELECT
                            CASE WHEN g %% 2 = 0 THEN {big_task} ELSE (ARRAY[{task_ids}])[1 + (g / 2) %% {k}] END,
                            CASE WHEN g %% 2 = 0 THEN '{big_split}' ELSE (ARRAY[{splits}])[1 + (g / 2) %% {k}] END,
                            'b' || g,
                            CASE WHEN g %% 2 = 0 THEN {big_first} ELSE (ARRAY[{firsts}])[1 + (g / 2) %% {k}] END
                                + g %% 10,
                            g, 'What is shown in picture ' || g || '?', 'It shows thing ' || g || '.', 'thing ' || g,
                            jsonb_build_object('image_id', g), {states}, '{{}}'::jsonb, 'unchecked', now(), now()
                        FROM generate_series(%s, %s) AS g
                        RETURNING id
                    )
                    INSERT INTO pipeline_sampleimage (sample_id, image_id, position)
                    SELECT id, (ARRAY[{images}])[1 + id %% {len(self.images)}], 0 FROM new
                    """,
                    [lo, hi],
                )
                bar(f"filling to {upto:,}", hi - self.filled, upto - self.filled)
        self.filled = upto
        return time.perf_counter() - start

    def extras(self) -> None:
        """Jobs, exports and a review, made once (they do not grow with the samples)."""
        from django.utils import timezone

        from pipeline.models import Export, Job, JobKind, JobStatus
        from qc import review

        jobs = Job.objects.bulk_create(
            Job(kind=JobKind.IMPORT if i % 2 else JobKind.EXPORT, status=JobStatus.SUCCEEDED, task_name="bench",
                params={"task": "vqa-v2", "split": "train"}, done=100, total=100, created_by=self.admin,
                task=self.big.task, finished_at=timezone.now())
            for i in range(60)
        )  # fmt: skip
        Export.objects.bulk_create(
            Export(job=job, name=f"bench-export-{job.pk}", created_by=self.admin, completed_at=timezone.now())
            for job in jobs if job.kind == JobKind.EXPORT
        )  # fmt: skip
        self.review = review.start_review(self.big, self.admin, self.reviewer)


def vacuum_analyze() -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("pipeline_sample", "pipeline_sampleimage"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


def no_autovacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("pipeline_sample", "pipeline_sampleimage"):
            cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")


# ---- the pages ----------------------------------------------------------------------------------


def pages(world: World) -> list[tuple[str, Any, str]]:
    """(name, user, url) of every page of every role, with the big split where a page takes one."""
    from pipeline.models import Sample

    some = Sample.objects.filter(task_id=world.big.task_id, split=world.big.split).order_by("id").first()
    review = world.review.pk
    return [
        ("admin home", world.admin, "/"),
        ("admin task page", world.admin, "/tasks/vqa-v2/"),
        ("admin task list", world.admin, "/tasks/"),
        ("admin sample list", world.admin, "/samples/"),
        ("admin samples of a split", world.admin, "/samples/?task=vqa-v2&split=train&paraphrase_state=pending"),
        ("admin sample page", world.admin, f"/samples/{some.pk}/"),
        ("admin qc dashboard", world.admin, "/qc/dashboard/"),
        ("admin paraphrase start", world.admin, "/paraphrase/"),
        ("admin jobs", world.admin, "/jobs/"),
        ("admin imports", world.admin, "/imports/"),
        ("admin exports", world.admin, "/exports/"),
        ("admin instruction stats", world.admin, "/instructions/statistics/"),
        ("admin split history", world.admin, f"/qc/splits/{world.big.pk}/"),
        ("api samples", world.admin, "/api/samples/"),
        ("api samples of a split", world.admin, "/api/samples/?task=vqa-v2&split=train&qc_state=unchecked"),
        ("api tasks", world.admin, "/api/tasks/"),
        ("api jobs", world.admin, "/api/jobs/"),
        ("api imports", world.admin, "/api/imports/"),
        ("api exports", world.admin, "/api/exports/"),
        ("reviewer home", world.reviewer, "/"),
        ("reviewer qc queue", world.reviewer, "/qc/"),
        ("reviewer review page", world.reviewer, f"/qc/reviews/{review}/"),
        ("reviewer returned", world.reviewer, "/qc/returned/"),
        ("api review items", world.reviewer, "/api/qc/review-items/"),
        ("writer home", world.writer, "/"),
        ("writer task page", world.writer, "/tasks/vqa-v2/"),
    ]


class BufferCounter:
    """Runs each SELECT of a request once more under EXPLAIN (ANALYZE, BUFFERS) and adds up the 8 kB pages
    it touched: the work a page asks of the database, which, unlike time, does not depend on how busy
    the machine is. Constant pages touch about as many buffers at N as at N/10."""

    def __init__(self) -> None:
        self.buffers = 0
        self.worst: tuple[int, str] = (0, "")

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not many and sql.lstrip().upper().startswith("SELECT"):
            with context["connection"].connection.cursor() as cursor:  # a plain cursor of the same session
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
                plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            top = plan[0]["Plan"]
            touched = int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
            self.buffers += touched
            self.worst = max(self.worst, (touched, sql[:160]))
        return result


class QueryCounter:
    """Counts queries and the seconds spent waiting for them (the database's share of a request)."""

    def __init__(self) -> None:
        self.n = 0
        self.seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.n += 1
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start


def measure(world: World, repeat: int) -> dict[str, dict[str, float]]:
    from django.db import connection
    from django.test import Client

    clients: dict[int, Client] = {}
    results = {}
    for name, user, url in pages(world):
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client()
            client.force_login(user)
        executed = QueryCounter()  # request_started clears queries_log, so count with a wrapper instead
        with connection.execute_wrapper(executed):
            response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        buffers = BufferCounter()
        with connection.execute_wrapper(buffers):
            client.get(url)
        times, sql, cpu = [], [], []
        timer = QueryCounter()
        with connection.execute_wrapper(timer):
            for _ in range(repeat):
                timer.seconds = 0.0
                start, start_cpu = time.perf_counter(), time.thread_time()
                client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.thread_time() - start_cpu) * 1000)
                sql.append(timer.seconds * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
        results[name] = {"p50": statistics.median(times), "p95": p95, "queries": executed.n,
                         "sql_p50": statistics.median(sql), "cpu_p50": statistics.median(cpu),
                         "buffers": buffers.buffers, "worst_query": buffers.worst}  # fmt: skip
    return results


# ---- through gunicorn ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def python_load(url: str, cookie: str, seconds: float, connections: int) -> dict[str, float]:
    """A bounded closed-loop client: `connections` threads, each request after the last, for `seconds`."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            with lock:
                latencies.append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=loop) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "requests": len(latencies),
    }


def wrk_load(url: str, cookie: str, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-H", f"Cookie: sessionid={cookie}", url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%?\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
    }


def through_gunicorn(world: World, env: dict[str, str], workers: int, seconds: float) -> dict[str, dict]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--error-logfile", str(Path(env["M3IT_VAR_DIR"]) / "gunicorn.log")],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        by_name = {name: (user, url) for name, user, url in pages(world)}
        results = {}
        for name in BUSIEST:
            user, url = by_name[name]
            cookie = session_cookie(user)
            load = wrk_load if shutil.which("wrk") else python_load
            results[name] = load(f"http://127.0.0.1:{port}{url}", cookie, seconds, 8) | {"tool": load.__name__}
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# ---- the report ---------------------------------------------------------------------------------


def report(small: int, large: int, runs: dict[tuple[int, str], dict[str, dict[str, float]]]) -> None:
    names = list(runs[(large, "after fill")])
    for phase in ("after fill", "after VACUUM ANALYZE"):
        a, b = runs[(small, phase)], runs[(large, phase)]
        print(f"\n{phase} (no VACUUM yet)" if phase == "after fill" else f"\n{phase}")
        print(f"  {'page':<26} {'q':>5} {'p50 N/10':>9} {'p95 N/10':>9} {'p50 N':>8} {'p95 N':>8} {'ratio':>6}"
              f" {'sql N/10':>9} {'sql N':>8} {'buf N/10':>9} {'buf N':>8}")  # fmt: skip
        for name in names:
            ratio = b[name]["p95"] / a[name]["p95"] if a[name]["p95"] else float("nan")
            queries = f"{b[name]['queries']}" if a[name]["queries"] == b[name]["queries"] else (
                f"{a[name]['queries']}>{b[name]['queries']}")  # fmt: skip
            print(f"  {name:<26} {queries:>5} {a[name]['p50']:>8.1f}  {a[name]['p95']:>8.1f}  "
                  f"{b[name]['p50']:>7.1f}  {b[name]['p95']:>7.1f}  {ratio:>5.2f} "
                  f"{a[name]['sql_p50']:>8.1f}  {b[name]['sql_p50']:>7.1f}  "
                  f"{a[name]['buffers']:>8}  {b[name]['buffers']:>7}")  # fmt: skip
        grew = sorted(names, key=lambda n: b[n]["buffers"] / max(a[n]["buffers"], 1), reverse=True)[:3]
        for name in grew:
            print(f"  most buffers grown: {name}: {a[name]['buffers']} -> {b[name]['buffers']}; "
                  f"largest query at N: {b[name]['worst_query'][0]} buffers: {b[name]['worst_query'][1]}")  # fmt: skip
        worst = max(names, key=lambda n: b[n]["p95"])
        print(f"  slowest p95 at N={large:,}: {worst} {b[worst]['p95']:.1f} ms; "
              f"largest ratio {max(b[n]['p95'] / a[n]['p95'] for n in names):.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10M samples (and 1M for the ratio)")
    parser.add_argument("--size", type=int, default=0, help="N (default 1M, or 10M with --full)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--server", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db", default="m3it_bench_pages")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for the WSGI run")
    parser.add_argument("--wsgi-seconds", type=float, default=8, help="per page; 0 skips the WSGI run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    large = args.size or (10_000_000 if args.full else 1_000_000)
    small = large // 10

    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    make_database(args.server, args.db)
    try:
        env = configure(f"{args.server}/{args.db}", workdir)
        from pipeline.samples.counts import recount

        world = World()
        no_autovacuum()
        runs: dict[tuple[int, str], dict] = {}
        figures: dict[str, Any] = {"sizes": [small, large]}
        for size in (small, large):
            seconds = world.fill(size)
            start = time.perf_counter()
            recount()
            took = time.perf_counter() - start
            print(f"  {size:,} samples: filled in {seconds:.0f} s ({size / seconds:,.0f} rows/s incl. image links); "
                  f"recount {took:.1f} s")  # fmt: skip
            figures[f"fill_{size}"] = {"seconds": seconds, "recount_seconds": took}
            if world.review is None:
                world.extras()
            print(f"  load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            runs[(size, "after fill")] = measure(world, args.repeat)
            figures[f"vacuum_{size}"] = vacuum_analyze()
            runs[(size, "after VACUUM ANALYZE")] = measure(world, args.repeat)
        report(small, large, runs)
        figures["pages"] = {f"{size} {phase}": r for (size, phase), r in runs.items()}
        if args.wsgi_seconds:
            print(f"\nthrough gunicorn ({args.workers} sync workers, loopback, {args.wsgi_seconds:.0f} s per page, "
                  f"8 connections) at {large:,} samples")  # fmt: skip
            wsgi = through_gunicorn(world, env, args.workers, args.wsgi_seconds)
            for name, r in wsgi.items():
                print(f"  {name:<28} {r['rps']:>7.1f} req/s  p50 {r['p50']:>7.1f} ms  p99 {r['p99']:>7.1f} ms  "
                      f"({r['requests']} requests, {r['tool']})")  # fmt: skip
            figures["wsgi"] = wsgi
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(args.server, args.db)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
