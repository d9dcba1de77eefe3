#!/usr/bin/env python
"""make bench-mail: an issue mailed to SUBSCRIBERS readers, end to end.

On the PostgreSQL database in BENCH_DATABASE_URL (or DATABASE_URL): makes
a newsletter with exactly SUBSCRIBERS (default 100,000) confirmed
subscribers and a fresh 10-story issue, starts Postfix's smtp-sink (or uses
EMAIL_HOST/EMAIL_PORT when set), two `manage.py run_worker` processes and
gunicorn, puts the issue live and runs send_due_mail as the scheduler does,
until every delivery is sent. KILL_WORKERS=k SIGKILLs a worker k times
during the send (each is restarted at once; send_due_mail takes its copies
back when their lease ends).

Counted at the sink from its own log of the conversation (smtp-sink -v):
messages, distinct recipients, duplicates, missing. Also: seconds from the
issue going live to the last delivery recorded, messages/s, the workers'
largest RSS, and the story page's p99 served while idle and during the
send. Prints and writes bench-results/mail.md and mail.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

# Its own port, so it can run beside `make bench`.
os.environ.setdefault("BENCH_PORT", "8766")
import bench  # noqa: E402  (scripts/bench.py: gunicorn, percentiles, database creation)

PYTHON = sys.executable
SUBSCRIBERS = int(os.environ.get("SUBSCRIBERS", "100000"))
KILL_WORKERS = int(os.environ.get("KILL_WORKERS", "0"))
WORKERS = int(os.environ.get("MAIL_WORKERS", "2"))
SINK_PORT = int(os.environ.get("SINK_PORT", "2525"))
# Decided before Django's settings load, since loading them fills os.environ.
USE_SINK = not os.environ.get("EMAIL_HOST")
LEASE = 10  # seconds: copies of a killed worker come back this soon
RESULTS = ROOT / "bench-results"


def mail_env() -> dict:
    env = {
        **os.environ,
        "NEWSROOM_TASKS_BACKEND": "database",
        "NEWSROOM_MAIL_LEASE_SECONDS": str(LEASE),
        "NEWSROOM_MAIL_IDLE_SECONDS": "3",
        "NEWSROOM_MAIL_PARALLEL": str(WORKERS),
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    if USE_SINK:
        env.update(
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(SINK_PORT),
            EMAIL_USE_TLS="false",
            EMAIL_USE_SSL="false",
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        )
    return env


def start_sink(log_path: Path) -> subprocess.Popen | None:
    if not USE_SINK:
        return None
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        raise SystemExit("smtp-sink is needed: sudo apt-get install postfix")
    argv = [sink, "-v"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    argv += [f"127.0.0.1:{SINK_PORT}", "1024"]
    from django.conf import settings

    from newsroom.management.commands.run_worker import lower_cpu_priority

    niceness = settings.NEWSROOM_WORKER_NICENESS

    log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    # The sink stands in for a mail server on another machine. Here it shares
    # the web server's cores, so it runs behind it for the CPU at the workers'
    # niceness: the story page's latency during the send then measures what the
    # newsroom's own processes cost its readers.
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: lower_cpu_priority(niceness),
    )
    for _ in range(50):
        try:
            import socket

            socket.create_connection(("127.0.0.1", SINK_PORT), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("smtp-sink did not start")


def count_sink(log_path: Path) -> dict:
    """Recipients and messages as the sink logged them (-v: one "rcpt TO:<...>"
    and one "." line per message)."""
    recipients: Counter = Counter()
    messages = 0
    rcpt = re.compile(rb"rcpt TO:<([^>]*)>", re.IGNORECASE)
    with open(log_path, "rb") as log:
        for line in log:
            if line.endswith(b": .\n"):
                messages += 1
            else:
                match = rcpt.search(line)
                if match:
                    recipients[match.group(1).decode().lower()] += 1
    return {"messages": messages, "recipients": recipients}


def start_worker(env: dict, n: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            PYTHON,
            "manage.py",
            "run_worker",
            "--interval",
            "0.2",
            "--worker-id",
            f"bench-mail-{n}-{time.time_ns() % 10**6}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler(threading.Thread):
    """Requests the story page one after another, keeping each time."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.times, self.errors = url, [], 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                self.times.append(time.perf_counter() - start)
            except Exception:
                self.errors += 1
            self.stopping.wait(0.02)

    def stop(self) -> list[float]:
        self.stopping.set()
        self.join()
        return self.times


def p99_ms(times: list[float]) -> float:
    return round(bench.percentile(times, 99) * 1000, 1) if times else 0.0


def main() -> None:
    # SIGTERM (timeout, Ctrl-C's cousin) still stops the workers and servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("Stopped."))
    env = mail_env()
    static_root = Path(tempfile.mkdtemp(prefix="bench-mail-static-"))
    web_env = {**bench.production_env(static_root, page_cache=True), **env}
    bench.django_setup(web_env)
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench-mail runs on PostgreSQL: set BENCH_DATABASE_URL or DATABASE_URL.")
    bench._create_database_if_missing(connection)
    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)

    from devtools import mailbench
    from newsletters.models import Delivery, Send

    newsletter = mailbench.bench_newsletter()
    mailbench.cancel_unfinished_sends(newsletter)
    started = time.perf_counter()
    mailbench.ensure_subscribers(newsletter, SUBSCRIBERS)
    print(f"{SUBSCRIBERS} confirmed subscribers ready ({time.perf_counter() - started:.1f} s)")
    issue = mailbench.ten_story_issue(newsletter)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    expected = {
        e.lower()
        for e in newsletter.subscriptions.filter(state="confirmed").values_list(
            "subscriber__email", flat=True
        )
    }

    RESULTS.mkdir(exist_ok=True)
    sink_log = Path(tempfile.mkdtemp(prefix="bench-mail-")) / "sink.log"
    sink = start_sink(sink_log)
    web = bench.start_gunicorn(web_env)
    workers = [start_worker(env, n) for n in range(WORKERS)]
    peak_rss = 0.0
    kills = 0
    try:
        # The story page readers will open from the mail, warmed, then idle.
        from stories.models import Story

        story = Story.objects.filter(issue_items__issue=issue).first()
        mailbench.make_live(issue)
        story_url = bench.BASE + story.get_absolute_url()
        urllib.request.urlopen(story_url, timeout=10).read()
        sampler = Sampler(story_url)
        sampler.start()
        time.sleep(8)
        idle = sampler.stop()

        sampler = Sampler(story_url)
        sampler.start()
        start = time.perf_counter()
        call_command("send_due_mail", verbosity=0)
        send = Send.objects.get(issue=issue)
        fixed = time.perf_counter() - start
        print(f"Send started, audience of {send.audience_size} fixed in {fixed:.2f} s")
        next_kill = start + 4
        last_scheduler = start
        while True:
            time.sleep(0.25)
            now = time.perf_counter()
            for proc in workers:
                peak_rss = max(peak_rss, rss_mb(proc.pid))
            if kills < KILL_WORKERS and now >= next_kill:
                victim = kills % len(workers)
                os.killpg(workers[victim].pid, signal.SIGKILL)
                workers[victim].wait()
                workers[victim] = start_worker(env, victim)
                kills += 1
                next_kill = now + 4
                print(f"Killed worker {victim} (kill {kills} of {KILL_WORKERS})")
            if now - last_scheduler >= 1:
                # What run_scheduler does every minute, more often here so a
                # killed worker's lease is taken back within seconds.
                call_command("send_due_mail", verbosity=0)
                last_scheduler = now
            left = Delivery.objects.filter(send=send, state__in=["queued", "sending"]).count()
            if not left:
                break
            if now - start > 1800:
                raise SystemExit(f"Gave up after 30 minutes with {left} deliveries left.")
        seconds = time.perf_counter() - start
        during = sampler.stop()
        time.sleep(0.5)  # the sink's log catches up
    finally:
        for proc in workers:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        bench.stop(web)
        if sink is not None:
            sink.terminate()
            sink.wait()
        shutil.rmtree(static_root, ignore_errors=True)

    send.refresh_from_db()
    states = dict(
        Delivery.objects.filter(send=send)
        .values_list("state")
        .order_by()
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("pk"))
    )
    result = {
        "subscribers": SUBSCRIBERS,
        "workers": WORKERS,
        "kills": kills,
        "seconds": round(seconds, 2),
        "audience_fixed_seconds": round(fixed, 2),
        "deliveries": states,
        "send_state": send.state,
        "worker_rss_mb_peak": round(peak_rss, 1),
        "story_p99_ms_idle": p99_ms(idle),
        "story_p99_ms_during_send": p99_ms(during),
        "story_samples": {"idle": len(idle), "during": len(during)},
    }
    if sink is not None:
        counted = count_sink(sink_log)
        recipients = counted["recipients"]
        result.update(
            messages=counted["messages"],
            distinct_recipients=len(recipients),
            duplicates=sum(n - 1 for n in recipients.values() if n > 1),
            missing=len(expected - set(recipients)),
            unexpected=len(set(recipients) - expected),
            messages_per_second=round(counted["messages"] / seconds, 1),
        )
        sink_log.unlink()
    else:
        sent = states.get("sent", 0)
        result.update(messages_per_second=round(sent / seconds, 1))
    write(result)


def write(result: dict) -> None:
    (RESULTS / "mail.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [
        ("Subscribers (confirmed)", result["subscribers"]),
        ("Workers / kills", f"{result['workers']} / {result['kills']}"),
        ("Messages at the sink", result.get("messages", "n/a (EMAIL_HOST)")),
        ("Seconds (live to last delivery)", result["seconds"]),
        ("Messages/s", result["messages_per_second"]),
        ("Distinct recipients", result.get("distinct_recipients", "n/a")),
        ("Duplicates", result.get("duplicates", "n/a")),
        ("Missing", result.get("missing", "n/a")),
        ("Deliveries by state", ", ".join(f"{k} {v}" for k, v in result["deliveries"].items())),
        ("Audience fixed in (s)", result["audience_fixed_seconds"]),
        ("Worker RSS, peak (MB)", result["worker_rss_mb_peak"]),
        ("Story page p99, idle (ms)", result["story_p99_ms_idle"]),
        ("Story page p99, during send (ms)", result["story_p99_ms_during_send"]),
    ]
    table = "| Measure | Value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = f"# make bench-mail\n\n{table}\n"
    (RESULTS / "mail.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
