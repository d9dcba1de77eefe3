"""No time outside what every layer can hold (stories/timebounds.py).

The edges the review used: 9999-12-31 23:59 in New York is in the year 10000
in UTC, and 0001-01-01 00:00 in Berlin in the year 0. Python cannot hold
either in UTC (SQLite failed on the write), and PostgreSQL stored them and
then could not hand them back (every page that read one failed). Each input
refuses them with a sentence, the database refuses them whatever writes them,
and a row that holds one anyway takes no page down.
"""

import importlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.urls import reverse

from stories import timebounds
from stories.editorial import workflow
from stories.models import AuditEntry, Correction, Issue, PreviewLink, Story
from stories.timebounds import OUT_OF_RANGE
from tests.factories import (
    CorrectionFactory,
    StoryFactory,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)

pytestmark = pytest.mark.django_db

EDGES = pytest.mark.parametrize(
    ("zone", "day", "clock"),
    [("America/New_York", "9999-12-31", "23:59"), ("Europe/Berlin", "0001-01-01", "00:00")],
    ids=["new-york-9999-is-year-10000-in-utc", "berlin-0001-is-year-0-in-utc"],
)
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def edge(zone: str, day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo(zone))


# -- every time is guarded ------------------------------------------------------


def test_every_date_of_the_newsroom_has_the_validator_and_the_database_constraint():
    guarded = []
    for model in apps.get_app_config("stories").get_models():
        constraints = {constraint.name for constraint in model._meta.constraints}
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateField):  # DateTimeField is one too
                assert timebounds.validate_time in field.validators, (model, field.name)
                name = f"{model._meta.app_label}_{model._meta.model_name}_{field.name}_in_range"
                assert name in constraints
                guarded.append(f"{model._meta.model_name}.{field.name}")
    assert len(guarded) == 20  # every DateTimeField of the app, listed in its migrations


@pytest.mark.parametrize(
    "value",
    [
        datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("America/New_York")),
        datetime(1, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1899, 12, 31, 23, 59, tzinfo=UTC),
        datetime(3000, 1, 1, tzinfo=UTC),
    ],
)
def test_a_time_outside_the_span_is_refused_with_a_sentence(value):
    with pytest.raises(ValidationError) as refused:
        timebounds.validate_time(value)
    assert refused.value.messages == [OUT_OF_RANGE]
    assert OUT_OF_RANGE == "Pick a date between 1 January 1900 and 31 December 2999."


def test_the_ends_of_the_span_are_inside_it():
    timebounds.validate_time(timebounds.EARLIEST)
    timebounds.validate_time(timebounds.LATEST)
    assert timebounds.within(datetime(2025, 6, 2, 9, 0))  # naive: the newsroom's zone


# -- scheduling and publishing --------------------------------------------------------


@EDGES
def test_a_publisher_cannot_schedule_an_issue_outside_the_span(
    client, publisher, settings, zone, day, clock
):
    settings.TIME_ZONE = zone
    issue = issue_with_stories(1)
    client.force_login(publisher)
    response = client.post(
        reverse("admin:stories_issue_schedule", args=[issue.pk]), {"publish_at": f"{day}T{clock}"}
    )
    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
    issue.refresh_from_db()
    assert (issue.status, issue.publish_at) == (Issue.Status.DRAFT, None)


@EDGES
def test_the_workflow_refuses_to_schedule_or_date_a_publication_outside_the_span(
    publisher, settings, zone, day, clock
):
    settings.TIME_ZONE = zone
    issue = issue_with_stories(1)
    with pytest.raises(workflow.WorkflowError, match=OUT_OF_RANGE):
        workflow.schedule_issue(publisher, issue, edge(zone, day, clock))
    with pytest.raises(workflow.WorkflowError, match=OUT_OF_RANGE):
        workflow.publish_issue_now(publisher, issue, as_of=datetime(1899, 12, 31, tzinfo=UTC))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT


# -- corrections, share links, accounts ---------------------------------------------------


@EDGES
def test_a_correction_dated_outside_the_span_is_refused_in_the_admin(
    client, editor, settings, zone, day, clock
):
    settings.TIME_ZONE = zone
    story = published_issue(1).stories.get()
    client.force_login(editor)
    response = client.post(
        reverse("admin:stories_correction_add"),
        {
            "story": story.pk,
            "text": "The figure was wrong.",
            "created_at_0": day,
            "created_at_1": clock,
        },
    )
    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()
    assert not Correction.objects.exists()


@EDGES
def test_a_share_link_cannot_expire_outside_the_span(editor, settings, zone, day, clock):
    settings.TIME_ZONE = zone
    link = PreviewLink(story=StoryFactory(), created_by=editor, expires_at=edge(zone, day, clock))
    with pytest.raises(ValidationError) as refused:
        link.full_clean()
    assert refused.value.message_dict == {"expires_at": [OUT_OF_RANGE]}


@EDGES
def test_an_account_date_outside_the_span_is_refused_in_the_admin(
    admin_client, settings, zone, day, clock
):
    # Django's own model, so the admin's form carries the rule.
    settings.TIME_ZONE = zone
    person = user_in("Writers", username="dated")
    response = admin_client.get(reverse("admin:auth_user_change", args=[person.pk]))
    data = {
        field.html_name: field.value() or ""
        for field in response.context["adminform"].form
        if field.name not in ("password", "groups", "user_permissions", "date_joined")
    }
    data.update({"date_joined_0": day, "date_joined_1": clock, "is_staff": "on"})
    data.update({"is_active": "on", "last_login_0": "", "last_login_1": ""})
    response = admin_client.post(reverse("admin:auth_user_change", args=[person.pk]), data)
    assert response.status_code == 200
    assert OUT_OF_RANGE in response.content.decode()


@pytest.mark.parametrize(
    ("model", "column"),
    [
        (Issue, "publish_at"),
        (Story, "published_at"),
        (Correction, "created_at"),
        (PreviewLink, "expires_at"),
        (AuditEntry, "created_at"),
    ],
)
def test_the_database_refuses_a_time_outside_the_span_whatever_writes_it(model, column):
    published_issue(1)
    story = Story.objects.get()
    CorrectionFactory(story=story)
    PreviewLink.objects.create(story=story, expires_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.update(**{column: datetime(3000, 1, 1, tzinfo=UTC)})


# -- commands -------------------------------------------------------------------------


def test_pruning_revisions_refuses_a_cutoff_before_the_span_with_a_sentence():
    for days in ("99999999999", "100000"):
        with pytest.raises(CommandError, match="reaches back to 1 January 1900"):
            call_command("prune_revisions", "--older-than-days", days)


def test_the_scheduler_loop_refuses_an_interval_nothing_can_wait():
    with pytest.raises(CommandError, match=r"1 or more and at most 86400 \(a day\)"):
        call_command("publish_scheduled", "--every", str(10**20))


# -- the admin's date filters -----------------------------------------------------------

OUT_OF_SPAN_FILTERS = [
    ("stories_story", "created_at__year=9999"),
    ("stories_story", "created_at__year=9999&created_at__month=12&created_at__day=31"),
    ("stories_issue", "publish_at__year=9999&publish_at__month=12"),
    ("stories_correction", "created_at__year=0"),
    ("stories_auditentry", "created_at__gte=9999-12-31+23:59"),
    ("stories_auditentry", "created_at__lt=0001-01-01"),
    ("stories_previewlink", "created_at__year=99999999999999999999"),
    ("axes_accessattempt", "attempt_time__year=9999"),
]


@pytest.mark.parametrize(("changelist", "query"), OUT_OF_SPAN_FILTERS)
def test_a_date_filter_outside_the_span_is_left_out_with_a_message(
    admin_client, settings, changelist, query
):
    settings.TIME_ZONE = "America/New_York"
    published_issue(1)
    url = reverse(f"admin:{changelist}_changelist")
    response = admin_client.get(f"{url}?{query}&o=1")
    assert response.status_code == 302
    assert response["Location"] == f"{url}?o=1"
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith(f"The filter “{query.split('&')[0].replace('+', ' ')}")
    assert "was left out:" in message
    assert admin_client.get(response["Location"]).status_code == 200


def test_a_date_filter_inside_the_span_still_applies(admin_client, settings):
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(NOW, tick=False):
        published_issue(1, headline="Inside the span")
    url = reverse("admin:stories_issue_changelist")
    shown = admin_client.get(f"{url}?publish_at__year=2025&publish_at__month=6").content.decode()
    assert "Inside the span" in shown
    hidden = admin_client.get(f"{url}?publish_at__year=2024").content.decode()
    assert "Inside the span" not in hidden


# -- rows that hold such a time anyway ---------------------------------------------------


def store_anyway(model, pk: int, column: str, postgres: str, sqlite: str) -> None:
    """Write a time outside the span into a row, past the CHECK constraint, as
    a row written before the constraints (or around them) would hold it."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rolled back with the test's transaction, as the update is. The
            # foreign keys' deferred checks run first: a table cannot be
            # altered while they are pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{table}_{column}_in_range"'
            )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [postgres, pk])
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [sqlite, pk])
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")


YEAR_10000 = ("10000-01-01 04:59:00+00", "10000-01-01 04:59:00")
YEAR_0 = ("0001-12-31 23:07:00+00 BC", "0000-12-31 23:07:00")


def test_postgres_reads_a_time_past_pythons_as_the_nearest_end_of_the_span(on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT '10000-01-01 04:59+00'::timestamptz, '0001-12-31 23:07+00 BC'::timestamptz, "
            "'infinity'::timestamptz, '9999-12-31 23:00+00'::timestamptz, "
            "'2025-06-02 12:00+00'::timestamptz, '10000-01-01'::timestamp, '0001-01-01 BC'::date"
        )
        row = cursor.fetchone()
    latest, earliest = timebounds.LATEST, timebounds.EARLIEST
    assert row == (
        latest,
        earliest,
        latest,
        latest,
        NOW,
        latest.replace(tzinfo=None),
        earliest.date(),
    )


PUBLIC_PAGES = [
    "/",
    "/robots.txt",
    "/issues/",
    "/search/?q=distillation",
    "/topics/",
    "/sources/",
    "/feeds/issues.rss",
    "/feeds/issues.atom",
    "/feeds/issues.json",
    "/sitemap.xml",
    "/sitemap-issues.xml",
    "/sitemap-stories.xml",
]


@pytest.mark.page_cache
def test_a_stored_time_outside_the_span_takes_no_page_down(on_postgres, settings, publisher):
    settings.TIME_ZONE = "America/New_York"
    current = published_issue(1, headline="Distillation week")
    story = current.stories.get()
    CorrectionFactory(story=story, text="The figure was wrong.")
    old = published_issue(1, as_of=NOW - timedelta(days=30))
    far = scheduled_issue(1)
    store_anyway(Issue, far.pk, "publish_at", *YEAR_10000)
    store_anyway(Issue, old.pk, "publish_at", *YEAR_0)
    store_anyway(Correction, Correction.objects.get().pk, "created_at", *YEAR_0)

    reader = Client()
    for path in [*PUBLIC_PAGES, current.get_absolute_url(), story.get_absolute_url()]:
        assert reader.get(path).status_code == 200, path
    assert reader.get(old.get_absolute_url()).status_code == 200

    ready = reader.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["times"].startswith("2 issue(s) hold a publication time outside")

    staff = Client()
    staff.force_login(publisher)
    for name, args in [
        ("admin:stories_issue_agenda", []),
        ("admin:stories_issue_changelist", []),
        ("admin:stories_issue_change", [far.pk]),
        ("admin:stories_correction_changelist", []),
        ("admin:stories_auditentry_changelist", []),
    ]:
        assert staff.get(reverse(name, args=args)).status_code == 200, name
    # Shown as the end of the span, and Unschedule repairs it.
    response = staff.post(reverse("admin:stories_issue_unschedule", args=[far.pk]))
    assert response.status_code == 302
    far.refresh_from_db()
    assert (far.status, far.publish_at) == (Issue.Status.DRAFT, None)
    assert reader.get("/readyz").json()["times"].startswith("1 issue(s)")


# -- the upgrade repairs what is stored ------------------------------------------------------


def repair_migration():
    """The migration that added the constraints, whatever number it has now."""
    loader = MigrationLoader(connection)
    [(app, name)] = [key for key in loader.disk_migrations if key[1].endswith("_times_in_range")]
    return loader.project_state((app, name), at_end=False), importlib.import_module(
        f"stories.migrations.{name}"
    )


def test_the_upgrade_repairs_times_outside_the_span_and_says_what_it_did(caplog):
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        live = published_issue(1)
        due = scheduled_issue(1, in_minutes=600)
        story = live.stories.get()
        correction = CorrectionFactory(story=story)
        link = PreviewLink.objects.create(story=story, expires_at=NOW + timedelta(days=3))
    store_anyway(Issue, due.pk, "publish_at", *YEAR_10000)
    store_anyway(Issue, live.pk, "publish_at", *YEAR_0)
    store_anyway(Story, story.pk, "published_at", *YEAR_10000)
    store_anyway(Correction, correction.pk, "created_at", *YEAR_0)
    store_anyway(PreviewLink, link.pk, "expires_at", *YEAR_10000)

    state, migration = repair_migration()
    with time_machine.travel(NOW, tick=False):
        migration.repair_times(state.apps, None)

    due.refresh_from_db()
    assert (due.status, due.publish_at) == (Issue.Status.DRAFT, None)
    note = AuditEntry.objects.get(issue=due, action="unscheduled")
    assert note.actor is None and "outside 1 January 1900 to 31 December 2999" in note.comment
    live.refresh_from_db()
    assert live.status == Issue.Status.PUBLISHED
    assert live.publish_at == live.published_at == NOW - timedelta(days=1)
    story.refresh_from_db()
    assert story.published_at is None  # when it happened is not known
    correction.refresh_from_db()
    link.refresh_from_db()
    assert correction.created_at == link.expires_at == NOW  # the link stops working now
    said = [record.getMessage() for record in caplog.records if record.name == "stories.migrations"]
    assert f"Issue #{due.number} was scheduled outside 1 January 1900 to 31 December 2999; " in (
        "\n".join(said)
    )
    assert len(said) == 5
    # Run again, it finds nothing to repair.
    with time_machine.travel(NOW, tick=False):
        migration.repair_times(state.apps, None)
    assert len([r for r in caplog.records if r.name == "stories.migrations"]) == 5
