"""No lost data: simultaneous admin saves keep exactly one and refuse the
rest with their input intact; a crash in the middle of a transition leaves
nothing half done; and publish_scheduled, stopped in the middle of a pass,
finishes the job exactly once when it runs again.

These run with real transactions (transaction=True), so a rollback here is
the database's, not a savepoint inside the test's transaction.
"""

import threading
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from stories.editorial import workflow
from stories.models import AuditEntry, Issue, Story
from stories.publishing import cache
from tests.factories import (
    StoryFactory,
    issue_with_stories,
    published_issue,
    scheduled_issue,
    user_in,
)
from tests.story_admin import change_url, story_form_data

real_transactions = pytest.mark.django_db(transaction=True)


class Crash(Exception):
    """Stands for whatever can go wrong mid-write: a lost connection, a full disk."""


def snapshot(issue: Issue) -> dict:
    """What readers and editors could observe of an issue and its stories."""
    issue = Issue.objects.get(pk=issue.pk)
    return {
        "issue": (issue.status, issue.publish_at, issue.published_at, issue.version),
        "stories": sorted(
            Story.objects.filter(issue_items__issue=issue).values_list(
                "pk", "status", "published_at", "version"
            )
        ),
        "audit": AuditEntry.objects.count(),
        "generation": cache.content_generation(),
    }


# -- simultaneous admin saves --------------------------------------------------


@real_transactions
def test_simultaneous_admin_saves_from_one_version_keep_one_and_refuse_the_others(
    on_postgres, editorial_groups
):
    writer = user_in("Writers", username="writer")
    story = StoryFactory(created_by=writer, headline="Original", dek="Original", body="Original")
    start_version = story.version
    edits = [{"headline": "Headline from A"}, {"dek": "Dek from B"}, {"body": "Body from C"}]
    clients, forms = [], []
    for n, changes in enumerate(edits):
        client = Client()
        client.force_login(user_in("Editors", username=f"editor-{n}", first_name=f"Ed{n}"))
        clients.append(client)
        forms.append(story_form_data(client, story, **changes))
    start = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def save(n):
        try:
            start.wait(timeout=10)
            responses[n] = clients[n].post(change_url(story), forms[n])
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200, 200, 302]
    winner = statuses.index(302)
    story.refresh_from_db()
    assert story.version == start_version + 1  # one save went through, once
    (field, value), *_ = edits[winner].items()
    assert getattr(story, field) == value
    for n, response in enumerate(responses):
        if n == winner:
            continue
        # Refused with the reason, and the editor's input is still in the form.
        # (Read from the page: the test client's captured template context
        # is not reliable across threads.)
        (field, value), *_ = edits[n].items()
        page = response.content.decode()
        assert "Your changes were not saved" in page
        assert value in page
        assert getattr(story, field) == "Original"
    assert LogEntry.objects.filter(object_id=str(story.pk), action_flag=CHANGE).count() == 1


# -- a crash in the middle of a transition ---------------------------------------


def crash_on_story_audit(real_audit):
    def audit(actor, action, obj, *args, **kwargs):
        if isinstance(obj, Story):
            raise Crash("the audit table is unavailable")
        return real_audit(actor, action, obj, *args, **kwargs)

    return audit


def crash_on_second_story_save(real_set_status):
    calls = []

    def set_status(story, *args, **kwargs):
        calls.append(story.pk)
        if len(calls) == 2:
            raise Crash("connection lost")
        return real_set_status(story, *args, **kwargs)

    return set_status


CRASHES = {
    "the first story's audit row": ("_audit", crash_on_story_audit),
    "the second story's save": ("_set_story_status", crash_on_second_story_save),
}


@real_transactions
@pytest.mark.parametrize("where", CRASHES)
def test_a_crash_while_publishing_leaves_no_half_published_issue(
    monkeypatch, editorial_groups, where
):
    issue = issue_with_stories(2)
    publisher = user_in("Publishers", username="publisher")
    before = snapshot(issue)
    name, make = CRASHES[where]
    monkeypatch.setattr(workflow, name, make(getattr(workflow, name)))

    with pytest.raises(Crash):
        workflow.publish_issue_now(publisher, issue)

    # The issue row was already updated when it crashed; the rollback undid it.
    assert snapshot(issue) == before
    assert not Issue.objects.published().exists()
    monkeypatch.undo()
    workflow.publish_issue_now(publisher, issue)
    assert AuditEntry.objects.filter(action="published").count() == 3  # issue + 2 stories


@real_transactions
@pytest.mark.parametrize("where", CRASHES)
def test_a_crash_while_withdrawing_leaves_the_issue_and_its_stories_live(
    monkeypatch, editorial_groups, where
):
    issue = published_issue(2)
    publisher = user_in("Publishers", username="publisher")
    before = snapshot(issue)
    name, make = CRASHES[where]
    monkeypatch.setattr(workflow, name, make(getattr(workflow, name)))

    with pytest.raises(Crash):
        workflow.withdraw_issue(publisher, issue, "Sent by mistake.")

    assert snapshot(issue) == before
    assert Story.objects.published().count() == 2


@real_transactions
def test_a_crash_while_recording_a_due_issue_leaves_it_scheduled_for_the_next_pass(
    monkeypatch, editorial_groups
):
    issue = scheduled_issue(2, in_minutes=5)
    before = snapshot(issue)
    monkeypatch.setattr(workflow, "_audit", crash_on_story_audit(workflow._audit))

    with time_machine.travel(issue.publish_at + timedelta(minutes=1), tick=False):
        with pytest.raises(Crash):
            workflow.publish_due_issues()
        # The status-guarded claim was rolled back with the rest.
        assert snapshot(issue) == before
        monkeypatch.undo()
        assert workflow.publish_due_issues().published == [issue.number]
    assert Issue.objects.get(pk=issue.pk).status == Issue.Status.PUBLISHED


# -- publish_scheduled stopped in the middle of a pass -----------------------------


def run_command() -> str:
    out = StringIO()
    call_command("publish_scheduled", stdout=out, stderr=StringIO())
    return out.getvalue()


@real_transactions
def test_publish_scheduled_stopped_mid_pass_finishes_the_job_exactly_once_when_run_again(
    monkeypatch, editorial_groups
):
    issues = [scheduled_issue(2, in_minutes=5 + n) for n in range(3)]
    real_mark_published = workflow._mark_published
    recorded = []

    def dies_after_the_first_issue(actor, issue, now, comment):
        if recorded:
            raise Crash("the process was killed")
        real_mark_published(actor, issue, now, comment)
        recorded.append(issue.number)

    with time_machine.travel(issues[-1].publish_at + timedelta(minutes=1), tick=False):
        monkeypatch.setattr(workflow, "_mark_published", dies_after_the_first_issue)
        with pytest.raises(Crash):
            run_command()
        first = Issue.objects.get(pk=issues[0].pk)
        assert first.status == Issue.Status.PUBLISHED
        statuses = Issue.objects.filter(pk__in=[i.pk for i in issues[1:]]).values_list(
            "status", flat=True
        )
        assert set(statuses) == {Issue.Status.SCHEDULED}  # nothing half done

        monkeypatch.undo()
        out = run_command()
        assert run_command() == ""  # a third run finds nothing left to do

    assert f"#{issues[0].number}" not in out
    assert all(f"#{issue.number}" in out for issue in issues[1:])
    assert Issue.objects.get(pk=first.pk).published_at == first.published_at
    for issue in issues:
        assert Issue.objects.get(pk=issue.pk).status == Issue.Status.PUBLISHED
        assert AuditEntry.objects.filter(issue=issue, action="published").count() == 1
        stories = Story.objects.filter(issue_items__issue=issue)
        assert set(stories.values_list("status", flat=True)) == {Story.Status.PUBLISHED}
        assert AuditEntry.objects.filter(story__in=stories, action="published").count() == 2
    assert AuditEntry.objects.filter(action="published").count() == 9


@real_transactions
def test_a_runner_killed_while_holding_a_due_issue_leaves_it_to_the_next_run(
    on_postgres, editorial_groups
):
    issues = [scheduled_issue(1, in_minutes=5 + n) for n in range(3)]
    due = issues[-1].publish_at + timedelta(minutes=1)
    holding, release = threading.Event(), threading.Event()

    def runner_that_dies():
        # Takes the earliest due issue exactly as publish_due_issues does,
        # then dies before committing: PostgreSQL rolls it back.
        try:
            with transaction.atomic():
                issue = workflow._next_due_issue(due)
                assert workflow._claim_due_issue(issue)
                holding.set()
                release.wait(timeout=10)
                raise Crash("killed")
        except Crash:
            pass
        finally:
            connection.close()

    dying = threading.Thread(target=runner_that_dies)
    dying.start()
    assert holding.wait(timeout=10)
    # Another server's pass skips the locked issue and records the others.
    assert workflow.publish_due_issues(due).published == [i.number for i in issues[1:]]
    release.set()
    dying.join(timeout=10)

    assert workflow.publish_due_issues(due).published == [issues[0].number]
    assert workflow.publish_due_issues(due).published == []
    for issue in issues:
        assert AuditEntry.objects.filter(issue=issue, action="published").count() == 1
    assert set(Issue.objects.values_list("status", flat=True)) == {Issue.Status.PUBLISHED}
