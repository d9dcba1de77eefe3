"""Exactly once under concurrency and crashes (PostgreSQL): two senders
racing over one send, and real `manage.py run_worker` processes SIGKILLed
again and again during a send, counted at a real SMTP server."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

import pytest
from django.db import connection, connections

from newsletters.delivery import sending
from newsletters.delivery.batch import run_batches
from newsletters.models import Delivery, Send
from tests.factories import SubscriptionFactory, default_newsletter, published_issue
from tests.process_helpers import ROOT, project_environment, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Delivery.State


@pytest.fixture
def newsletter(on_postgres, editorial_groups):
    newsletter = default_newsletter()
    newsletter.postal_address = "1 Example Street, Exampletown"
    newsletter.save(update_fields=["postal_address"])
    return newsletter


def audience(count: int) -> set[str]:
    return {SubscriptionFactory(state="confirmed").subscriber.email for _ in range(count)}


def copies_by_recipient(smtp_server) -> dict[str, list[str]]:
    """Each recipient's Message-IDs, issue mail only."""
    seen = defaultdict(list)
    for message in smtp_server.messages:
        if message.header("List-Id"):
            for recipient in message.recipients:
                seen[recipient].append(message.header("Message-ID"))
    return seen


def test_two_senders_racing_over_one_send_mail_each_reader_once(newsletter, smtp_server, settings):
    settings.NEWSROOM_MAIL_BATCH = 10
    settings.NEWSROOM_MAIL_RECORD_EVERY = 3
    readers = audience(120)
    issue = published_issue(1)
    # The tasks are not run here (no worker): the two threads are the workers.
    settings.TASKS = {"default": {"BACKEND": settings.NEWSROOM_TASKS_BACKENDS["database"]}}
    send = sending.start_send(issue)
    results, barrier = [], threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(run_batches(send.pk).summary)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    seen = copies_by_recipient(smtp_server)
    assert set(seen) == readers
    assert all(len(ids) == 1 for ids in seen.values())
    # Both took part: the claim hands each batch to one of them only.
    assert len(results) == 2 and all("sent" in result for result in results)
    assert sum(int(result.split()[0]) for result in results) == 120
    assert Send.objects.get(pk=send.pk).state == Send.State.FINISHED


def test_two_schedulers_starting_the_same_issue_make_one_send(newsletter, settings):
    audience(30)
    issue = published_issue(1)
    settings.TASKS = {"default": {"BACKEND": settings.NEWSROOM_TASKS_BACKENDS["database"]}}
    outcomes, barrier = [], threading.Barrier(2)

    def scheduler():
        try:
            barrier.wait()
            outcomes.append(sending.start_send(issue))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcome is None for outcome in outcomes) == [False, True]
    assert Send.objects.filter(issue=issue).count() == 1
    assert Delivery.objects.count() == 30


def database_url() -> str:
    params = connection.settings_dict
    user = params.get("USER") or "root"
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{params['NAME']}"


class Workers:
    """Real `manage.py run_worker` processes on the test database, sending
    through the test's SMTP server, with short leases so that a dead
    worker's copies come back quickly. The test's own settings match."""

    def __init__(self, settings, smtp_server, name: str, record_every: int, lease: int):
        self.name = name
        self.variables = {
            "DATABASE_URL": database_url(),
            "NEWSROOM_TASKS_BACKEND": "database",
            "NEWSROOM_MAIL_BATCH": "40",
            "NEWSROOM_MAIL_RECORD_EVERY": str(record_every),
            "NEWSROOM_MAIL_LEASE_SECONDS": str(lease),
            "NEWSROOM_MAIL_IDLE_SECONDS": "1",
            "NEWSROOM_SITE_URL": settings.SITE_URL,
            "DJANGO_LOG_LEVEL": "WARNING",
            **smtp_server.environment,
        }
        settings.TASKS = {"default": {"BACKEND": settings.NEWSROOM_TASKS_BACKENDS["database"]}}
        settings.NEWSROOM_MAIL_LEASE_SECONDS = lease
        settings.NEWSROOM_MAIL_IDLE_SECONDS = 1
        self.processes = []

    def start(self, n: int) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.1",
             "--worker-id", f"{self.name}-{n}-{time.time_ns() % 10**9}"],
            cwd=ROOT,
            env=project_environment(**self.variables),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        if n < len(self.processes):
            self.processes[n] = process
        else:
            self.processes.append(process)
        return process

    def kill(self, n: int) -> None:
        os.killpg(self.processes[n].pid, signal.SIGKILL)
        self.processes[n].wait()

    def stop_all(self) -> None:
        for n, process in enumerate(self.processes):
            if process.poll() is None:
                self.kill(n)


@pytest.mark.slow
def test_workers_killed_again_and_again_leave_nobody_out_and_resend_only_in_flight_copies(
    newsletter, smtp_server, settings
):
    """Real run_worker processes send 1,500 copies; one of them is SIGKILLed
    every 0.6 s, eight times, and restarted, while the scheduler's command
    takes back the killed workers' copies. At the server: every reader, and
    a second copy only for copies in flight at a kill (at most one recording
    chunk per kill), always with the same Message-ID."""
    record_every, kills_wanted, lease = 5, 8, 2
    workers = Workers(settings, smtp_server, "crash", record_every, lease)
    readers = audience(1500)
    issue = published_issue(2)
    send = sending.start_send(issue)
    assert send.audience_size == 1500

    for n in (0, 1):
        workers.start(n)
    kills = 0
    try:
        wait_until(
            lambda: Delivery.objects.filter(send=send, state=D.SENT).exists(),
            60,
            "no copy was sent within 60 s",
        )
        deadline = time.monotonic() + 180
        while True:
            time.sleep(0.6)
            if kills < kills_wanted:
                victim = kills % 2
                workers.kill(victim)
                workers.start(victim)
                kills += 1
            # What run_scheduler does every minute, here every pass.
            from django.core.management import call_command

            call_command("send_due_mail", verbosity=0)
            if kills == kills_wanted and sent_and_finished(send):
                break
            left = Delivery.objects.filter(send=send, state__in=[D.QUEUED, D.SENDING]).count()
            assert time.monotonic() < deadline, f"not finished after 180 s, {left} copies left"
    finally:
        workers.stop_all()

    time.sleep(0.5)  # the last replies of the server reach its inbox
    seen = copies_by_recipient(smtp_server)
    assert set(seen) == readers, f"missing: {len(readers - set(seen))}"
    twice = {r: ids for r, ids in seen.items() if len(ids) > 1}
    # A second copy carries the first's Message-ID, so mail clients show one.
    assert all(len(set(ids)) == 1 for ids in twice.values())
    assert all(len(ids) == 2 for ids in twice.values())
    assert len(twice) <= kills * (record_every + 1)
    assert set(Delivery.objects.filter(send=send).values_list("state", flat=True)) == {D.SENT}
    assert Send.objects.get(pk=send.pk).state == Send.State.FINISHED
    print(f"{kills} kills, {len(twice)} readers got a second copy, none missing")


def sent_and_finished(send) -> bool:
    """No copy is left queued or held, and the send says so. A worker killed
    between recording its last copies and finishing the send leaves it
    sending; the scheduler's next pass finishes it, and the loops above wait
    for that as a publisher would."""
    left = Delivery.objects.filter(send=send, state__in=[D.QUEUED, D.SENDING])
    return not left.exists() and Send.objects.get(pk=send.pk).state == Send.State.FINISHED


def restart_postgresql() -> None:
    """Restart the PostgreSQL cluster the tests run on (Debian's cluster tools,
    as CI starts it); every open connection is cut."""
    import shutil

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    tool = shutil.which("pg_ctlcluster")
    if tool is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs Debian's pg_ctlcluster, run as root (as CI is)")
    connections.close_all()
    subprocess.run(
        [tool, "--skip-systemctl-redirect", str(major), "main", "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def until_the_database_answers(check, timeout: float, message: str):
    """wait_until, through a database that is coming back: a query cut by the
    restart is asked again on a fresh connection."""
    from django.db import InterfaceError, OperationalError

    def answered():
        try:
            return check()
        except (OperationalError, InterfaceError):
            connections.close_all()
            return False

    wait_until(answered, timeout, message)


@pytest.mark.slow
def test_a_database_restart_mid_send_leaves_nobody_out(newsletter, smtp_server, settings):
    """PostgreSQL restarts while two real workers send 1,000 copies. Workers
    that die with their connection are started again, as a supervisor
    would; copies whose handoff was cut are taken back once their lease
    ends. At the server: every reader, a second copy only for copies in
    flight at the restart, always with the same Message-ID."""
    record_every, lease = 5, 2
    workers = Workers(settings, smtp_server, "restart", record_every, lease)
    readers = audience(1000)
    issue = published_issue(2)
    send = sending.start_send(issue)

    for n in (0, 1):
        workers.start(n)
    restarted = False
    try:
        wait_until(
            lambda: Delivery.objects.filter(send=send, state=D.SENT).count() >= 100,
            60,
            "fewer than 100 copies were sent within 60 s",
        )
        restart_postgresql()
        restarted = True
        deadline = time.monotonic() + 180
        from django.core.management import call_command

        def done():
            for n, worker in enumerate(workers.processes):
                if worker.poll() is not None:  # died with its connection
                    workers.start(n)
            # What run_scheduler does every minute, here every pass.
            call_command("send_due_mail", verbosity=0)
            return sent_and_finished(send)

        until_the_database_answers(done, deadline - time.monotonic(), "copies left after 180 s")
    finally:
        workers.stop_all()

    assert restarted
    time.sleep(0.5)  # the last replies of the server reach its inbox
    seen = copies_by_recipient(smtp_server)
    assert set(seen) == readers, f"missing: {len(readers - set(seen))}"
    twice = {r: ids for r, ids in seen.items() if len(ids) > 1}
    assert all(len(set(ids)) == 1 for ids in twice.values())
    # In flight at the restart: at most one recording chunk per worker.
    assert len(twice) <= 2 * (record_every + 1)
    assert set(Delivery.objects.filter(send=send).values_list("state", flat=True)) == {D.SENT}
    assert Send.objects.get(pk=send.pk).state == Send.State.FINISHED
    print(f"database restarted mid-send: {len(twice)} readers got a second copy, none missing")
