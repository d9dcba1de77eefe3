"""Readers' pages read from the replica named by DATABASE_REPLICA_URL; the
admin, forms, people with a session and every write use the primary.
`make replica-check` shows it against a real streaming replica."""

import pytest
from django.test import RequestFactory

from newsroom import replica
from stories.models import Story
from tests.test_settings import start_up

factory = RequestFactory()


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(replica, "replica_configured", lambda: True)


def database_read_during(request) -> str:
    seen = []

    def view(request):
        seen.append(replica.ReaderReplicaRouter().db_for_read(Story))
        return None

    replica.ReaderTrafficMiddleware(view)(request)
    return seen[0]


def test_an_anonymous_public_get_reads_the_replica(with_replica):
    assert database_read_during(factory.get("/stories/some-story/")) == "replica"
    assert database_read_during(factory.head("/")) == "replica"


@pytest.mark.parametrize(
    "request_",
    [
        factory.post("/newsletters/subscribe/"),
        factory.get("/admin/stories/story/"),
        factory.get("/", HTTP_COOKIE="sessionid=abc"),
    ],
    ids=["a form post", "the admin", "someone with a session"],
)
def test_everything_else_reads_the_primary(with_replica, request_):
    assert database_read_during(request_) == "default"


def test_without_a_replica_readers_read_the_primary():
    assert database_read_during(factory.get("/")) == "default"


def test_writes_and_migrations_go_to_the_primary_even_for_readers(with_replica):
    router = replica.ReaderReplicaRouter()
    with replica.reading_for_readers():
        assert router.db_for_write(Story) == "default"
    assert router.allow_migrate("default", "stories")
    assert not router.allow_migrate("replica", "stories")


def test_reads_outside_a_request_use_the_primary(with_replica):
    # Tasks, commands and the scheduler never read a replica that may lag.
    assert replica.ReaderReplicaRouter().db_for_read(Story) == "default"


def test_a_replica_of_sqlite_is_refused_with_a_sentence():
    result = start_up(DATABASE_REPLICA_URL="sqlite:////tmp/replica.db")
    assert result.returncode != 0
    assert "both must be postgres:// URLs" in result.stderr


@pytest.mark.postgres
def test_a_real_streaming_replica_serves_readers_pages(on_postgres):
    """`make replica-check` itself: two throwaway clusters, pg_basebackup, gunicorn."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "scripts/replica_check.py"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with replay paused, readers still get the replica's headline  ok" in result.stdout
    assert "after replication, readers get the primary's write" in result.stdout
    assert "every step held" in result.stdout
