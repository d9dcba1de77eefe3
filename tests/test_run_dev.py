"""`make run`'s supervisor (scripts/run_dev.py): the web server, a task worker,
the scheduler and the mail catcher start together, print behind their names,
and stop together on Ctrl-C, on SIGTERM or when one of them dies, leaving no
process behind."""

import contextlib
import os
import signal
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.process_helpers import (
    ROOT,
    Running,
    alive,
    command_line,
    descendants,
    free_port,
    project_environment,
    wait_until,
)


def supervise(programs: dict[str, str], grace: float = 10.0) -> Running:
    """scripts/run_dev.py's Supervisor over small Python programs."""
    code = textwrap.dedent(
        f"""
        import runpy, sys
        run_dev = runpy.run_path({str(ROOT / "scripts" / "run_dev.py")!r})
        programs = [
            run_dev["Program"](name, [sys.executable, "-c", source])
            for name, source in {programs!r}.items()
        ]
        sys.exit(run_dev["Supervisor"](programs, grace={grace}).run())
        """
    )
    return Running([sys.executable, "-c", code])


SLEEPER = "import time; print('ready', flush=True); time.sleep(300)"
# Starts a process of its own, as runserver's reloader does.
PARENT = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
    "print('ready', flush=True); time.sleep(300)"
)


@pytest.fixture
def running():
    started = []

    def start(run: Running) -> Running:
        started.append(run)
        return run

    yield start
    for run in started:  # a failed test must not leave its processes running
        for pid in descendants(run.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_every_program_and_what_they_started(running, sig):
    run = running(supervise({"web": PARENT, "worker": SLEEPER}))
    run.wait_for_line("web    | ready")
    run.wait_for_line("worker | ready")
    # The supervisor's two programs and the process the web program started.
    started = wait_until(
        lambda: len(pids := descendants(run.process.pid)) >= 3 and pids,
        10,
        "the programs and the web program's own child did not all start",
    )

    assert run.stop(sig) == 0
    assert [pid for pid in started if alive(pid)] == []


def test_one_program_dying_stops_the_others(running):
    run = running(
        supervise({"crash": "import time; time.sleep(1); raise SystemExit(3)", "web": PARENT})
    )
    run.wait_for_line("web   | ready")
    started = descendants(run.process.pid)

    assert run.process.wait(timeout=30) == 1
    run._reader.join(timeout=5)
    assert "crash exited with status 3; stopping the others." in run.output
    assert [pid for pid in started if alive(pid)] == []


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace_period(running):
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(300)"
    )
    run = running(supervise({"stubborn": stubborn}, grace=1))
    run.wait_for_line("stubborn | ready")
    (pid,) = descendants(run.process.pid)

    assert run.stop() == 0
    assert "stubborn did not stop within 1 s; killing it." in run.output
    assert not alive(pid)


def test_make_run_starts_web_worker_scheduler_and_mail_catcher_and_ctrl_c_stops_them(
    running, sqlite_file, tmp_path
):
    port, mail_port = free_port(), free_port()
    env = project_environment(
        DATABASE_URL=f"sqlite:///{sqlite_file}",
        DJANGO_DEBUG="false",
        NEWSROOM_LOG_FORMAT="plain",
        DJANGO_SECRET_KEY="make-run-test",
    )
    argv = [
        sys.executable,
        "scripts/run_dev.py",
        "--port",
        str(port),
        "--mail-port",
        str(mail_port),
    ]
    run = running(Running(argv, env=env))

    run.wait_for_line(f"mail      | Catching mail on smtp://127.0.0.1:{mail_port}", timeout=60)
    run.wait_for_line("worker    |", timeout=60)
    run.wait_for_line("scheduler | Running at the start of every minute: publish_scheduled")
    health = wait_until(
        lambda: _get(f"http://127.0.0.1:{port}/healthz"), 90, "the web server never answered"
    )
    assert health == 200
    started = descendants(run.process.pid)
    commands = " ".join(command_line(pid) for pid in started)
    for command in ("runserver", "run_worker", "run_scheduler", "mail_catcher"):
        assert command in commands
    # Every process sends its mail to the catcher, whatever this shell has set.
    for pid in started:
        environment = dict(
            entry.split(b"=", 1)
            for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if b"=" in entry
        )
        assert environment[b"EMAIL_HOST"] == b"127.0.0.1"
        assert environment[b"EMAIL_PORT"] == str(mail_port).encode()
        assert environment[b"EMAIL_BACKEND"] == b"django.core.mail.backends.smtp.EmailBackend"

    assert run.stop(timeout=60) == 0
    assert [command_line(pid) or pid for pid in started if alive(pid)] == []
    assert "scheduler | Scheduler stopped." in run.output
    assert "mail      | Stopped catching mail." in run.output


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None
