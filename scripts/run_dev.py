"""`make run`: the web server, a task worker, the scheduler and a mail catcher,
started together and stopped together.

Each process's output is printed line by line behind its name. Ctrl-C (SIGINT)
or SIGTERM stops them all; so does any one of them exiting, since a newsroom
without its worker or scheduler would look fine and silently not send or
publish. Every process runs in its own process group, which is signalled as a
whole, so nothing a process started itself (runserver's reloader child, say)
outlives the run.

    python scripts/run_dev.py [--host 127.0.0.1] [--port 8000] [--mail-port 1025]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Program:
    name: str
    argv: list[str]
    listens_on: tuple[str, int] | None = None  # started once this address answers


def newsroom_programs(python: str, host: str, port: int, mail_port: int) -> list[Program]:
    manage = [python, "manage.py"]
    return [
        # First, so the others' mail has somewhere to go from their first second.
        Program(
            "mail",
            [*manage, "mail_catcher", "--host", "127.0.0.1", "--port", str(mail_port)],
            listens_on=("127.0.0.1", mail_port),
        ),
        Program("web", [*manage, "runserver", f"{host}:{port}"]),
        Program("worker", [*manage, "run_worker", "--no-reload"]),
        Program("scheduler", [*manage, "run_scheduler"]),
    ]


def mail_environment(mail_port: int) -> dict[str, str]:
    """Every process sends through the catcher: a development run never mails real people."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "false",
        "EMAIL_USE_SSL": "false",
    }


class Supervisor:
    def __init__(
        self,
        programs: list[Program],
        env: dict[str, str] | None = None,
        out=None,
        grace: float = 10.0,
        cwd: Path = ROOT,
    ):
        self.programs = programs
        # Children print each line as they write it, not when a buffer fills.
        self.env = {**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"}
        self.out = out or sys.stdout
        self.grace = grace
        self.cwd = cwd
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self._print_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._width = max(len(p.name) for p in programs)

    # -- output ------------------------------------------------------------

    def say(self, name: str, line: str) -> None:
        with self._print_lock:
            self.out.write(f"{name:<{self._width}} | {line}\n")
            self.out.flush()

    def _relay(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    # -- running -----------------------------------------------------------

    def request_stop(self, signum=None, frame=None) -> None:
        self.stopping.set()

    def run(self) -> int:
        """Start everything, wait until a signal or a death, stop everything.
        0 after a signal; 1 when a process ended (or never started) on its own."""
        previous = {
            sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            status = self._start_all() or self._watch()
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _start_all(self) -> int:
        for program in self.programs:
            if self.stopping.is_set():
                return 0
            child = subprocess.Popen(
                program.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C reaches the supervisor alone,
                # which then stops each group as a whole.
                start_new_session=True,
            )
            self.children[program.name] = child
            reader = threading.Thread(
                target=self._relay, args=(program.name, child.stdout), daemon=True
            )
            reader.start()
            self._readers.append(reader)
            if program.listens_on and not self._wait_until_listening(program, child):
                return 1
        return 0

    def _wait_until_listening(self, program: Program, child, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if child.poll() is not None:
                self.say("run", f"{program.name} exited with status {child.returncode}.")
                return False
            try:
                socket.create_connection(program.listens_on, timeout=1).close()
                return True
            except OSError:
                time.sleep(0.1)
        if self.stopping.is_set():
            return True
        self.say("run", f"{program.name} did not start listening within {timeout:.0f} s.")
        return False

    def _watch(self) -> int:
        while not self.stopping.wait(0.2):
            for name, child in self.children.items():
                if child.poll() is not None:
                    self.say(
                        "run",
                        f"{name} exited with status {child.returncode}; stopping the others.",
                    )
                    return 1
        return 0

    def stop_all(self) -> None:
        """SIGTERM to every group, then SIGKILL to whatever is left after grace."""
        for child in self.children.values():
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline and any(map(_group_alive, self.children.values())):
            time.sleep(0.05)
        for name, child in self.children.items():
            if _group_alive(child):
                self.say("run", f"{name} did not stop within {self.grace:.0f} s; killing it.")
                _signal_group(child, signal.SIGKILL)
            child.wait()
        for reader in self._readers:
            reader.join(timeout=5)


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    # The group's id is its leader's pid; nothing to do once the group has gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def _group_alive(child: subprocess.Popen) -> bool:
    """Whether anything of child's group still runs (reaping the leader once it exits)."""
    if child.poll() is None:
        return True
    try:
        os.killpg(child.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--mail-port", type=int, default=1025)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    programs = newsroom_programs(args.python, args.host, args.port, args.mail_port)
    supervisor = Supervisor(programs, env={**os.environ, **mail_environment(args.mail_port)})
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
