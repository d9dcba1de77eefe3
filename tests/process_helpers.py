"""Helpers for tests that start the project's own processes."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_environment(**variables: str | None) -> dict[str, str]:
    """The environment a process of the project gets: this one's without any
    Newsroom, Django, database or mail variable (so each test says what it
    needs), plus variables (None leaves one unset). Its mail stays in memory
    unless a test points it at a server."""
    prefixes = ("DJANGO_", "NEWSROOM_", "DATABASE_", "REDIS_", "EMAIL_", "ANYMAIL_")
    names = {"DEFAULT_FROM_EMAIL", "SERVER_EMAIL"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}
    environment = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **variables,
    }
    return {k: v for k, v in environment.items() if v is not None}


def manage(*args: str, timeout: float = 120, **variables: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with exactly these project variables."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=project_environment(**variables),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every living process below pid, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        state, parent = fields[0], int(fields[1])
        if state != "Z":
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_until(condition, timeout: float, message: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message)


def settings_values(names: list[str], **variables: str):
    """The named settings as a process started with these variables computes
    them (through JSON), or, when it cannot start, the last line of its error."""
    import json

    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=project_environment(**variables),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        return result.stderr.strip().splitlines()[-1]
    return json.loads(result.stdout)


def setting(name: str, **variables: str):
    """One setting as settings_values computes it (or the error that stopped start-up)."""
    values = settings_values([name], **variables)
    return values[name] if isinstance(values, dict) else values


class Running:
    """A supervisor in its own process, its output collected line by line."""

    def __init__(self, argv, env=None):
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env or project_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        return wait_until(
            lambda: next((line for line in self.lines if text in line), None),
            timeout,
            f"no line with {text!r} within {timeout} s; output so far:\n" + self.output,
        )

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, sig=signal.SIGINT, timeout: float = 30) -> int:
        self.process.send_signal(sig)
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return status

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
