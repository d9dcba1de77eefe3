"""`make replica-check`: reader pages served by a real PostgreSQL streaming replica.

Starts two throwaway PostgreSQL clusters in a temporary directory: a primary,
and a hot-standby replica made from it with pg_basebackup, streaming its WAL.
(Throwaway so that nothing in the machine's own PostgreSQL configuration has
to change: a replica needs a `replication` line in pg_hba.conf.) Then:

1. migrates the primary and loads the demo newsroom into it;
2. starts gunicorn with DATABASE_URL on the primary and DATABASE_REPLICA_URL
   on the replica (page cache off, so every request reads the database);
3. shows a story page served, then pauses replay on the replica, renames the
   story on the primary, and shows readers still get the old headline: the
   page came from the replica;
4. resumes replay and shows the new headline once the replica has replayed
   the primary's write; an editor's request (with a session) and the admin
   read the primary throughout.

Exit status 0 when every step holds. `KEEP=1` keeps the clusters' directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def pg_bin(name: str) -> str:
    try:
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if os.path.exists(os.path.join(bindir, name)):
            return os.path.join(bindir, name)
    except (OSError, subprocess.CalledProcessError):
        pass
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    if not found:
        sys.exit(f"PostgreSQL's {name} is needed (Debian: apt-get install postgresql).")
    return found[-1]


def _version(path: str) -> float:
    try:
        return float(path.split("/")[4])
    except (IndexError, ValueError):
        return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Clusters:
    """A primary and its streaming replica, run as the postgres account when
    this runs as root (PostgreSQL refuses to run as root)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *argv: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *argv], check=True, capture_output=True, text=True, **kwargs
        )

    def url(self, port: int) -> str:
        return f"postgres://newsroom@127.0.0.1:{port}/newsroom"

    def sql(self, port: int, query: str) -> str:
        return self.run(
            pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "newsroom",
            "-d", "newsroom", "-tAc", query,
        ).stdout.strip()  # fmt: skip

    def start(self) -> None:
        if self.as_user:
            shutil.chown(self.workdir, "postgres")
        primary, replica = self.workdir / "primary", self.workdir / "replica"
        self.run(
            pg_bin("initdb"), "-D", str(primary), "-U", "newsroom", "--auth=trust", "-E", "UTF8"
        )
        with open(primary / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.workdir}'\n"
                "wal_level = replica\nmax_wal_senders = 4\nfsync = off\n"
            )
        with open(primary / "pg_hba.conf", "a") as hba:
            hba.write("host replication newsroom 127.0.0.1/32 trust\n")
        self.run(
            pg_bin("pg_ctl"),
            "-D",
            str(primary),
            "-l",
            str(self.workdir / "primary.log"),
            "-w",
            "start",
        )
        self.run(
            pg_bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "newsroom",
            "newsroom",
        )
        # The replica: a base backup of the primary that keeps streaming its WAL
        # (-R writes primary_conninfo and standby.signal).
        self.run(
            pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port),
            "-U", "newsroom", "-D", str(replica), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        with open(replica / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.replica_port}\n")
        self.run(
            pg_bin("pg_ctl"),
            "-D",
            str(replica),
            "-l",
            str(self.workdir / "replica.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        for name in ("replica", "primary"):
            if (self.workdir / name / "postmaster.pid").exists():
                subprocess.run(
                    [
                        *self.as_user,
                        pg_bin("pg_ctl"),
                        "-D",
                        str(self.workdir / name),
                        "-m",
                        "fast",
                        "stop",
                    ],
                    capture_output=True,
                )

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        target = self.sql(self.primary_port, "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = self.sql(
                self.replica_port,
                f"SELECT pg_wal_lsn_diff('{target}', pg_last_wal_replay_lsn()) > 0",
            )
            if behind == "f":
                return
            time.sleep(0.1)
        raise RuntimeError("the replica did not catch up with the primary")


def get(url: str, cookie: str = "") -> str:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="newsroom-replica-"))
    clusters = Clusters(workdir)
    server = None
    checks: list[tuple[str, bool]] = []
    try:
        print("Starting a primary and a streaming replica (pg_basebackup)...", flush=True)
        clusters.start()
        in_recovery = clusters.sql(clusters.replica_port, "SELECT pg_is_in_recovery()") == "t"
        checks.append(("the replica is a hot standby streaming from the primary", in_recovery))
        env = {
            **os.environ,
            "DATABASE_URL": clusters.url(clusters.primary_port),
            "DATABASE_REPLICA_URL": clusters.url(clusters.replica_port),
            "NEWSROOM_PAGE_CACHE": "false",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "NEWSROOM_LOG_FORMAT": "plain",
            "NEWSROOM_TASKS_BACKEND": "immediate",
        }
        env.pop("REDIS_URL", None)
        for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
            subprocess.run(
                [PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
            )
        clusters.wait_replayed()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "newsroom.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", "1", "--log-level", "warning", "--access-logfile", "/dev/null"],
            cwd=ROOT, env={**env, "REDIS_URL": ""},
        )  # fmt: skip
        wait_for(base + "/healthz")

        os.environ.update(
            {k: env[k] for k in ("DATABASE_URL", "DATABASE_REPLICA_URL", "NEWSROOM_PAGE_CACHE")}
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from stories.models import Story

        story = Story.objects.published().order_by("pk").first()
        url = base + story.get_absolute_url()
        old, new = story.headline, story.headline + " (renamed on the primary)"
        checks.append(("a story page is served with replicas configured", old in get(url)))

        clusters.sql(clusters.replica_port, "SELECT pg_wal_replay_pause()")
        story.headline = new
        story.save()
        paused_page = get(url)
        checks.append(
            (
                "with replay paused, readers still get the replica's headline",
                old in paused_page and new not in paused_page,
            )
        )
        checks.append(
            ("the primary holds the new headline", Story.objects.get(pk=story.pk).headline == new)
        )
        # Someone with a session (an editor) reads the primary: their own change shows at once.
        editor_page = get(url, cookie="sessionid=an-editors-session")
        checks.append(("meanwhile a request with a session reads the primary", new in editor_page))

        clusters.sql(clusters.replica_port, "SELECT pg_wal_replay_resume()")
        clusters.wait_replayed()
        checks.append(("after replication, readers get the primary's write", new in get(url)))
        writes = clusters.sql(
            clusters.replica_port,
            "SELECT count(*) FROM stories_story WHERE headline = " + _quote(new),
        )
        checks.append(("the replica holds the write it replayed", writes == "1"))
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        clusters.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"Kept {workdir}")

    width = max(len(label) for label, _ in checks)
    for label, ok in checks:
        print(f"  {label:<{width}}  {'ok' if ok else 'FAILED'}")
    failed = [label for label, ok in checks if not ok]
    print(
        "Replica check: " + ("every step held." if not failed else f"{len(failed)} step(s) failed.")
    )
    return 1 if failed else 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


if __name__ == "__main__":
    sys.exit(main())
