import pytest
from django.core.management import call_command
from django.db.models import F

from stories.models import Citation, Issue, ListingEntry, SearchDocument, Story, TaggedTopic

pytestmark = pytest.mark.django_db


def test_generate_bench_data_makes_published_archive_of_the_asked_size(capsys):
    call_command(
        "generate_bench_data",
        issues=6,
        stories=60,
        topics=5,
        sources=4,
        authors=3,
        subscribers=0,
        quiet=True,
    )
    assert Issue.objects.published().count() == 6
    assert Story.objects.published().count() == 60
    newest = Issue.objects.published().order_by("-publish_at").first()
    assert newest.items.count() == 10
    assert Citation.objects.count() >= 60 and TaggedTopic.objects.count() >= 60
    story = Story.objects.first()
    assert "<h2>" in story.body_html and "<strong>" in story.body_html
    assert "Added 6 issues, 60 stories" in capsys.readouterr().out


def test_generate_bench_data_adds_after_existing_issue_numbers():
    call_command(
        "generate_bench_data",
        issues=2,
        stories=4,
        topics=2,
        sources=2,
        authors=1,
        subscribers=0,
        quiet=True,
    )
    call_command(
        "generate_bench_data",
        issues=2,
        stories=4,
        topics=2,
        sources=2,
        authors=1,
        subscribers=0,
        quiet=True,
    )
    assert sorted(Issue.objects.values_list("number", flat=True)) == [1, 2, 3, 4]


def test_generate_bench_data_adds_subscribers_in_every_state_with_consent(capsys):
    from newsletters.models import ConsentRecord, Subscriber, Subscription

    call_command(
        "generate_bench_data",
        issues=1,
        stories=1,
        topics=1,
        sources=1,
        authors=1,
        subscribers=300,
        quiet=True,
    )
    assert Subscriber.objects.count() == Subscription.objects.count() == 300
    assert ConsentRecord.objects.count() == 300
    states = set(Subscription.objects.values_list("state", flat=True))
    assert states == {"confirmed", "pending", "unsubscribed"}
    assert "300 subscribers" in capsys.readouterr().out
    # Run again: new addresses, no clash.
    call_command(
        "generate_bench_data",
        issues=1,
        stories=1,
        topics=1,
        sources=1,
        authors=1,
        subscribers=10,
        quiet=True,
    )
    assert Subscriber.objects.count() == 310


@pytest.mark.postgres
def test_100000_bench_subscribers_are_all_written_on_postgresql(on_postgres):
    # Its time is printed, not asserted: timings belong to benchmarks, not tests.
    import time

    from devtools.bench_subscribers import generate_subscribers
    from newsletters.models import Subscriber

    started = time.monotonic()
    assert generate_subscribers(100_000) == 100_000
    elapsed = time.monotonic() - started
    print(f"\n100,000 bench subscribers: {elapsed:.1f} s")
    assert Subscriber.objects.count() == 100_000


def test_generated_text_holds_exactly_what_saving_and_indexing_would_write():
    from stories.models import SearchDocument
    from stories.publishing.search_index import document_fields
    from stories.rendering import render_markdown

    call_command(
        "generate_bench_data", stories=40, topics=3, sources=2, authors=2, subscribers=0, quiet=True
    )
    for story in Story.objects.all():
        for source, target in Story.MARKDOWN_FIELDS.items():
            assert getattr(story, target) == render_markdown(getattr(story, source)), story.pk
        document = SearchDocument.objects.get(story=story)
        expected = document_fields(story)
        assert (document.headline, document.dek, document.body) == (
            expected["headline"],
            expected["dek"],
            expected["body"],
        )
        assert story.listed_at == story.issues.get().publish_at


def test_a_hot_topic_is_carried_by_the_share_of_stories_asked_for():
    call_command(
        "generate_bench_data",
        stories=400,
        topics=5,
        sources=2,
        authors=2,
        subscribers=0,
        hot_topic="OpenAI",
        hot_share=0.5,
        quiet=True,
    )
    carried = TaggedTopic.objects.filter(tag__name="OpenAI").count()
    assert 150 < carried < 250
    assert Issue.objects.count() == 20  # one issue per 20 stories unless told


@pytest.mark.postgres
def test_generated_search_vectors_are_the_databases_own(on_postgres):
    call_command(
        "generate_bench_data", stories=60, topics=3, sources=2, authors=2, subscribers=0, quiet=True
    )
    assert search_rows_differing_from_the_databases_own() == 0
    assert SearchDocument.objects.count() == 60


def search_rows_differing_from_the_databases_own() -> int:
    from django.db import connection

    vector = (
        "setweight(to_tsvector('english', headline), 'A') || "
        "setweight(to_tsvector('english', dek), 'B') || "
        "setweight(to_tsvector('english', {body}), 'C')"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM stories_searchdocument WHERE vector <> "
            + vector.format(body="body")
            + " OR rank_vector <> "
            + vector.format(body="LEFT(body, 400)")
            + " OR headline_vector <> to_tsvector('english', headline)"
            + " OR listed_at IS DISTINCT FROM "
            + "(SELECT listed_at FROM stories_story WHERE id = story_id)"
        )
        return cursor.fetchone()[0]


def schema():
    """Every index and constraint definition of the database (PostgreSQL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1"
        )
        indexes = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
            "ORDER BY 1, 2"
        )
        return indexes, cursor.fetchall()


@pytest.mark.postgres
def test_the_indexes_and_foreign_keys_dropped_for_the_load_are_all_made_again(on_postgres):
    before = schema()
    assert any("gin_trgm_ops" in index for index in before[0])
    # An empty archive: every secondary index and foreign key of the story
    # tables is dropped while the stories go in.
    call_command(
        "generate_bench_data", stories=60, topics=3, sources=2, authors=2, subscribers=0, quiet=True
    )
    assert schema() == before
    # Fewer stories than the archive holds: they are kept, and still there.
    call_command(
        "generate_bench_data", stories=10, topics=1, sources=1, authors=1, subscribers=0, quiet=True
    )
    assert schema() == before


def test_generated_stories_are_listed_under_every_topic_source_and_author_they_carry():
    call_command(
        "generate_bench_data",
        issues=3,
        stories=30,
        topics=4,
        sources=3,
        authors=2,
        subscribers=0,
        quiet=True,
    )
    assert_listed_under_what_they_carry()


def assert_listed_under_what_they_carry():
    entries = ListingEntry.objects.all()
    assert set(entries.filter(topic__isnull=False).values_list("story", "topic")) == set(
        TaggedTopic.objects.values_list("content_object", "tag")
    )
    assert set(entries.filter(source__isnull=False).values_list("story", "source")) == set(
        Citation.objects.values_list("story", "source")
    )
    assert set(entries.filter(author__isnull=False).values_list("story", "author")) == set(
        Story.authors.through.objects.values_list("story", "user")
    )
    # With each story's own listing date.
    assert not entries.exclude(listed_at=F("story__listed_at")).exists()


# -- a load that commits its own work: one writing connection per core ---------------


def load_100_stories():
    sizes = {"stories": 100, "topics": 4, "sources": 3, "authors": 2}
    call_command("generate_bench_data", **sizes, subscribers=0, quiet=True)


def assert_nothing_added(schema_before):
    """No story or issue, nothing hanging off them, and the schema whole."""
    assert not Story.objects.exists() and not Issue.objects.exists()
    for model in (SearchDocument, TaggedTopic, Citation, ListingEntry, Story.authors.through):
        assert not model.objects.exists(), model
    assert schema() == schema_before


@pytest.fixture
def batches_by_writer(monkeypatch):
    """Batches of 20 stories; the first two writes wait for each other, so a
    load with one writing connection fails, and each write records which
    connection (server process) made it."""
    import threading

    from django.db import connection

    from devtools import benchdata

    monkeypatch.setattr(benchdata, "BATCH", 20)
    # Two writers whatever the machine's cores (one per core, at most four).
    monkeypatch.setattr(benchdata, "parallel_writers", lambda: 2)
    both_writing = threading.Barrier(2, timeout=20)
    writers: list[int] = []
    write = benchdata.Batch.write

    def recorded(batch):
        writers.append(connection.connection.info.backend_pid)
        if len(writers) <= 2:
            both_writing.wait()
        write(batch)

    monkeypatch.setattr(benchdata.Batch, "write", recorded)
    return writers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_load_outside_a_transaction_writes_on_every_core_with_the_same_result(
    on_postgres, batches_by_writer
):
    from django.db import connection

    before = schema()
    load_100_stories()
    assert len(set(batches_by_writer)) == 2 and len(batches_by_writer) == 5
    assert connection.connection.info.backend_pid not in batches_by_writer
    assert Story.objects.published().count() == SearchDocument.objects.count() == 100
    assert search_rows_differing_from_the_databases_own() == 0
    assert_listed_under_what_they_carry()
    assert schema() == before
    # The id sequences were moved past the ids written.
    issue = Issue.objects.first()
    assert Issue.objects.create(newsletter=issue.newsletter, number=99, headline="After").pk > 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_load_that_fails_midway_takes_back_what_it_added(
    on_postgres, batches_by_writer, monkeypatch
):
    from devtools import benchdata

    write = benchdata.Batch.write

    def failing(batch):
        if len(batches_by_writer) >= 3:
            raise RuntimeError("the disk is full")
        write(batch)

    monkeypatch.setattr(benchdata.Batch, "write", failing)
    before = schema()
    with pytest.raises(RuntimeError, match="the disk is full"):
        load_100_stories()
    assert_nothing_added(before)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_load_that_fails_while_making_the_indexes_again_takes_back_its_stories(
    on_postgres, batches_by_writer, monkeypatch
):
    """The stories are committed by then; the full-text index fails once.
    The load deletes what it added and makes every index and key again."""
    from devtools import benchdata

    build = benchdata.build_index
    failures = []

    def failing_once(definition):
        if "USING gin (vector)" in definition and not failures:
            failures.append(definition)
            raise RuntimeError("out of memory")
        build(definition)

    monkeypatch.setattr(benchdata, "build_index", failing_once)
    before = schema()
    with pytest.raises(RuntimeError, match="out of memory"):
        load_100_stories()
    assert failures and len(set(batches_by_writer)) == 2
    assert_nothing_added(before)


def test_the_load_writes_on_one_connection_inside_a_callers_transaction():
    from devtools.benchdata import parallel_writers

    assert parallel_writers() == 1  # a test's transaction: other connections see nothing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_load_writes_on_one_connection_per_core_when_it_commits_its_own_work(
    on_postgres, monkeypatch
):
    import os

    from devtools.benchdata import parallel_writers

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert parallel_writers() == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert parallel_writers() == 4
