#!/usr/bin/env python3
"""Soak test: does the site survive its database restarting under load?

Starts gunicorn with production settings on PostgreSQL, sends a steady stream
of reader requests to it from a few threads, stops PostgreSQL, starts it
again, and prints errors per second. The claim it checks: errors happen only
while the database is down, the site recovers by itself (connection health
checks), and no gunicorn worker is restarted along the way.

    make soak                                   # database newsroom_soak
    DATABASE_URL=postgres://root@127.0.0.1:5432/other make soak

Needs to run as a user allowed to use pg_ctlcluster (root on the dev box).
Only ever talks to 127.0.0.1. PostgreSQL is started again on the way out
whatever happens (Ctrl-C, SIGTERM, an exception).
"""

import argparse
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[soak] {message}", flush=True)


class Cluster:
    """The local PostgreSQL cluster, stopped and started with Debian's tools."""

    def __init__(self):
        versions = sorted(os.listdir("/etc/postgresql"))
        if not versions:
            sys.exit("No PostgreSQL cluster in /etc/postgresql.")
        self.version = versions[-1]
        self.stopped_by_us = False

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action],
            check=True,
        )

    def is_up(self) -> bool:
        return subprocess.run(["pg_isready", "-q", "-h", HOST]).returncode == 0

    def stop(self) -> None:
        self.stopped_by_us = True
        self._ctl("stop")

    def start(self) -> None:
        if not self.is_up():
            self._ctl("start")
        self.stopped_by_us = False


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.add(int(entry.name))
    return found


def manage(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def reader_paths(env: dict) -> list[str]:
    code = (
        "import django, json; django.setup();"
        "from stories.models import Issue, Story;"
        "print(json.dumps(['/'] + [i.get_absolute_url() for i in Issue.objects.published()]"
        " + [s.get_absolute_url() for s in Story.objects.published()[:6]]))"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code], cwd=ROOT, env=env, check=True, capture_output=True
    )
    # /readyz always touches the database, whatever the page cache holds.
    return json.loads(out.stdout) + ["/readyz"]


class Load:
    """Threads requesting reader pages in a loop; every result is kept."""

    def __init__(self, port: int, paths: list[str], threads: int):
        self.port, self.paths, self.threads = port, paths, threads
        self.results: list[tuple[float, str, str]] = []  # (start time, path, outcome)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def _request(self, path: str) -> str:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=15)
        try:
            # Production settings redirect plain HTTP: say TLS ended at a proxy.
            conn.request(
                "GET",
                path,
                headers={"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": HOST},
            )
            response = conn.getresponse()
            response.read()
            return str(response.status)
        except (OSError, http.client.HTTPException) as error:
            return type(error).__name__
        finally:
            conn.close()

    def _run(self, n: int) -> None:
        i = n
        while not self.stopping.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            started = time.monotonic()
            outcome = self._request(path)
            with self.lock:
                self.results.append((started, path, outcome))

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join()


def is_error(outcome: str) -> bool:
    return not (outcome.isdigit() and int(outcome) < 500)


def report(load: Load, t0: float, marks: dict, log_path: Path) -> dict:
    down_from, down_until = marks["stop_begin"], marks["start_end"]
    per_second: dict[int, Counter] = {}
    outside, during = Counter(), Counter()
    for started, _path, outcome in load.results:
        second = int(started - t0)
        bucket = per_second.setdefault(second, Counter())
        bucket["requests"] += 1
        if is_error(outcome):
            bucket["errors"] += 1
            (during if down_from <= started <= down_until else outside)[outcome] += 1

    def phase(second: int) -> str:
        start, end = t0 + second, t0 + second + 1
        if end <= down_from:
            return "up"
        if start >= down_until:
            return "up again"
        return "database down"

    print()
    print(f"{'second':>6} {'requests':>9} {'errors':>7}  phase")
    for second in sorted(per_second):
        counts = per_second[second]
        bar = "#" * min(40, counts["errors"] // 5 + (1 if counts["errors"] else 0))
        print(
            f"{second:>6} {counts['requests']:>9} {counts['errors']:>7}  {phase(second):<14}{bar}"
        )
    after = [s for s in per_second if t0 + s >= down_until]
    first_clean = next((s for s in sorted(after) if not per_second[s]["errors"]), None)
    server_errors = sum(1 for line in log_path.read_text().splitlines() if '"ERROR"' in line)
    summary = {
        "requests": len(load.results),
        "errors_while_database_down": sum(during.values()),
        "errors_outside_the_outage": sum(outside.values()),
        "error_kinds_while_down": dict(during),
        "error_kinds_outside": dict(outside),
        "outage_seconds": round(down_until - down_from, 1),
        "stop_took_seconds": round(marks["stop_end"] - marks["stop_begin"], 1),
        "start_took_seconds": round(marks["start_end"] - marks["start_begin"], 1),
        "first_clean_second_after_restart": first_clean,
        "seconds_to_recover": None
        if first_clean is None
        else round(max(0.0, t0 + first_clean - down_until), 1),
        "server_error_log_lines": server_errors,
    }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("SOAK_PORT", "8105")))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--warm-up", type=float, default=10, help="seconds before the stop")
    parser.add_argument("--outage", type=float, default=8, help="seconds the database stays down")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after the start")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgres://root@127.0.0.1:5432/newsroom_soak"
    cluster = Cluster()
    if not cluster.is_up():
        sys.exit("PostgreSQL is not running; start it first (the soak stops and starts it).")

    runtime = Path(os.environ.get("SOAK_DIR", ROOT / "bench-results"))
    runtime.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = runtime / f"soak-{stamp}-gunicorn.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NEWSROOM_"))},
        # Production settings, as the README's Deployment section lists them,
        # with this machine standing in for the load balancer.
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_BEHIND_PROXY": "true",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DATABASE_URL": database_url,
        "DJANGO_CONN_MAX_AGE": "60",
        "NEWSROOM_DEMO_PASSWORD": secrets.token_urlsafe(12),
        "NEWSROOM_LOG_FORMAT": "json",
        "GUNICORN_BIND": f"{HOST}:{args.port}",
        # No scheduled recycling during the run: a changed worker id then
        # means a worker really was restarted.
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_ACCESS_LOG": "",
    }

    ensure_database(database_url)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "load_demo")
    paths = reader_paths(env)
    log(f"{len(paths)} reader URLs on {database_url.rsplit('/', 1)[1]}")

    gunicorn = None
    interrupted = []

    def on_signal(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        with open(log_path, "w") as gunicorn_log:
            gunicorn = subprocess.Popen(
                # Given on the command line: gunicorn.conf.py runs one worker
                # without REDIS_URL, and the soak's read-only load cannot make a
                # worker's own cache stale.
                [
                    str(BIN / "gunicorn"),
                    "--config",
                    "gunicorn.conf.py",
                    "--workers",
                    str(args.workers),
                    "newsroom.wsgi",
                ],
                cwd=ROOT,
                env=env,
                stdout=gunicorn_log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection(HOST, args.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                sys.exit(f"gunicorn did not come up; see {log_path}")
            time.sleep(0.2)
        time.sleep(1)  # let every worker finish booting
        workers_before = children_of(gunicorn.pid)
        log(f"gunicorn {gunicorn.pid} with workers {sorted(workers_before)} on port {args.port}")

        load = Load(args.port, paths, args.threads)
        t0 = time.monotonic()
        load.start()
        marks = {}
        time.sleep(args.warm_up)
        log("stopping PostgreSQL")
        marks["stop_begin"] = time.monotonic()
        cluster.stop()
        marks["stop_end"] = time.monotonic()
        time.sleep(args.outage)
        log("starting PostgreSQL")
        marks["start_begin"] = time.monotonic()
        cluster.start()
        marks["start_end"] = time.monotonic()
        time.sleep(args.after)
        load.stop()

        workers_after = children_of(gunicorn.pid)
        summary = report(load, t0, marks, log_path)
        summary["workers_restarted"] = sorted(workers_before - workers_after)
        summary["gunicorn_log"] = str(log_path)
        (runtime / f"soak-{stamp}.json").write_text(json.dumps(summary, indent=2) + "\n")
        print()
        print(json.dumps(summary, indent=2))
        ok = (
            summary["errors_outside_the_outage"] == 0
            and summary["errors_while_database_down"] > 0
            and not summary["workers_restarted"]
            and summary["first_clean_second_after_restart"] is not None
        )
        print()
        log(
            "PASS: errors only while the database was down, recovered by itself, "
            "no worker restarted."
            if ok
            else "FAIL: see the figures above."
        )
        return 0 if ok else 1
    except KeyboardInterrupt:
        log("interrupted; restoring PostgreSQL and stopping gunicorn")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may stop the restore
        try:
            if cluster.stopped_by_us or not cluster.is_up():
                log("starting PostgreSQL again")
                cluster.start()
        finally:
            if gunicorn is not None and gunicorn.poll() is None:
                gunicorn.terminate()
                try:
                    gunicorn.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    gunicorn.kill()


if __name__ == "__main__":
    sys.exit(main())
