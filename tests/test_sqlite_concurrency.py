"""SQLite shared by several processes, as `make run` shares it between the web
server, the task worker and the scheduler: writers wait their turn instead of
failing with "database is locked"."""

import sqlite3
import subprocess
import sys
import textwrap

from django.db.utils import ConnectionHandler

from newsroom import env
from tests.process_helpers import ROOT, project_environment

WRITERS = 4
TRANSACTIONS = 40

# Each transaction reads, then writes, as a view that checks a state before
# changing it does: the pattern SQLite refuses at once, without waiting, when
# another process wrote since the read began (unless the transaction took the
# write lock when it began).
WRITER = textwrap.dedent(
    """
    import os, sys, time
    import django
    django.setup()
    from django.db import connection, transaction

    writer, go = sys.argv[1], sys.argv[2]
    while not os.path.exists(go):  # all writers start together
        time.sleep(0.01)
    for n in range(int(sys.argv[3])):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM ledger WHERE writer = %s", [writer])
                (count,) = cursor.fetchone()
                time.sleep(0.002)  # the work a view does between the two
                cursor.execute(
                    "INSERT INTO ledger (writer, n) VALUES (%s, %s)", [writer, count]
                )
    print("done")
    """
)


def test_sqlite_connections_use_wal_a_busy_timeout_and_immediate_transactions(
    tmp_path, django_db_blocker
):
    config = env.env_database("NO_SUCH_VARIABLE", f"sqlite:///{tmp_path / 'db.sqlite3'}", 60)
    connection = ConnectionHandler({"default": config})["default"]
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone() == ("wal",)
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone() == (20_000,)
        assert connection.transaction_mode == "IMMEDIATE"
        connection.close()


def test_concurrent_writers_in_separate_processes_never_find_the_database_locked(tmp_path):
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute(
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, n INTEGER)"
        )
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{i}", str(go), str(TRANSACTIONS)],
            cwd=ROOT,
            env=project_environment(DATABASE_URL=f"sqlite:///{path}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    go.touch()
    results = [writer.communicate(timeout=120) for writer in writers]

    for writer, (stdout, stderr) in zip(writers, results, strict=True):
        assert "database is locked" not in stderr
        assert writer.returncode == 0, stderr
        assert stdout.strip() == "done"
    with sqlite3.connect(path) as check:
        rows = check.execute("SELECT writer, COUNT(*), MAX(n) FROM ledger GROUP BY writer")
        # Every transaction committed, each having read its own earlier rows.
        assert sorted(rows) == [(f"w{i}", TRANSACTIONS, TRANSACTIONS - 1) for i in range(WRITERS)]
