"""An edit racing "Schedule" cannot slip in: an issue goes out only with
stories as they were when they were checked. Scheduling (and publishing now)
locks the issue and then its stories before checking them; saving a story
locks its issues and then the story before checking that none is scheduled
(stories/workflow.py). Of the two, the second waits for the first to commit
and then judges what it did.

The races run on PostgreSQL with two real connections; the same rule without
a race (a form opened before the issue was scheduled) runs everywhere."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from stories.editorial import revisions, workflow
from stories.models import Issue
from stories.publishing import changes
from tests.factories import approved_story, ensure_editorial_groups, issue_with_stories, user_in
from tests.story_admin import change_url, messages_of, story_form_data

pytestmark = pytest.mark.django_db

REWRITTEN = "A body rewritten after approval, with no source behind it."


def uncited_rewrite(client, story) -> dict:
    """The story form as client sees it now, with the citation removed and the body rewritten."""
    return story_form_data(client, story, body=REWRITTEN, **{"citations-0-DELETE": "on"})


def scheduled_lock(issue) -> str:
    return (
        f"This story is in issue #{issue.number}, scheduled for publication; a publisher "
        "must unschedule the issue before it can be edited."
    )


def assert_went_out_as_approved(story, issue):
    story.refresh_from_db()
    assert story.citations.exists() and story.body != REWRITTEN
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED


def test_a_save_from_a_form_opened_before_the_issue_was_scheduled_is_refused(
    client, editor, publisher
):
    story = approved_story()
    issue = issue_with_stories(stories=[story])
    client.force_login(editor)
    opened_before = uncited_rewrite(client, story)
    workflow.schedule_issue(publisher, issue, timezone.now() + timedelta(hours=1))

    response = client.post(change_url(story), opened_before, follow=True)

    assert messages_of(response) == [f"Not saved: {scheduled_lock(issue)}"]
    assert_went_out_as_approved(story, issue)


# -- two connections ---------------------------------------------------------------


class InThread:
    """work() on a connection of its own, in a thread: its server process id
    (to see it wait for a lock), then what it returned or raised."""

    def __init__(self, work):
        self.pid, self.result, self.error = None, None, None
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()
        assert self._connected.wait(10)

    def _run(self, work):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            self._connected.set()
            self.result = work()
        except Exception as error:  # reported by the test, from the main thread
            self.error = error
        finally:
            self._connected.set()
            connection.close()

    def wait_until_blocked_or_done(self) -> None:
        """Until this thread waits for a row lock or has finished: then its
        outcome no longer depends on how fast the machine is. Polled, since
        PostgreSQL says it only in pg_stat_activity (bounded at ten seconds)."""
        deadline = time.monotonic() + 10
        while self._thread.is_alive() and time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self.pid]
                )
                row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.01)

    def join(self):
        self._thread.join(30)
        assert not self._thread.is_alive(), "still waiting after 30 s: a deadlock?"
        return self


class PausedIn:
    """The first call of module.name, by whichever thread makes it, stops
    once it has run until release(): that thread's transaction stays open
    with its row locks held and its writes uncommitted."""

    def __init__(self, monkeypatch, module, name):
        self.reached, self._release = threading.Event(), threading.Event()
        real = getattr(module, name)

        def paused(*args, **kwargs):
            result = real(*args, **kwargs)
            if not self.reached.is_set():
                self.reached.set()
                self._release.wait(30)
            return result

        monkeypatch.setattr(module, name, paused)

    def wait(self):
        assert self.reached.wait(10)

    def release(self):
        self._release.set()


@pytest.fixture
def newsroom(on_postgres):
    ensure_editorial_groups()  # an earlier transactional test's flush emptied them
    editor = user_in("Editors", username="racing-editor")
    story = approved_story()
    issue = issue_with_stories(stories=[story])
    client = Client()
    client.force_login(editor)
    return {
        "story": story,
        "issue": issue,
        "client": client,
        "publisher": user_in("Publishers", username="racing-publisher"),
    }


PUBLICATION = {
    "schedule": lambda publisher, issue: workflow.schedule_issue(
        publisher, issue, timezone.now() + timedelta(hours=1)
    ),
    "publish now": lambda publisher, issue: workflow.publish_issue_now(publisher, issue),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", PUBLICATION)
def test_a_publication_arriving_while_an_edit_is_being_saved_waits_and_then_refuses_it(
    newsroom, monkeypatch, step
):
    story, issue, client = newsroom["story"], newsroom["issue"], newsroom["client"]
    form = uncited_rewrite(client, story)
    # The editor's save has written the story and dropped its citation, and
    # has not committed yet.
    saving = PausedIn(monkeypatch, revisions, "record_revision")
    edit = InThread(lambda: client.post(change_url(story), form))
    saving.wait()

    publication = InThread(lambda: PUBLICATION[step](newsroom["publisher"], issue))
    publication.wait_until_blocked_or_done()
    saving.release()
    edit.join(), publication.join()

    assert edit.error is None and edit.result.status_code == 302
    assert isinstance(publication.error, workflow.WorkflowError)
    assert "cite at least one source" in str(publication.error)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    story.refresh_from_db()
    assert story.body == REWRITTEN and not story.citations.exists()


@pytest.mark.django_db(transaction=True)
def test_an_edit_arriving_while_the_issue_is_being_scheduled_waits_and_is_then_refused(
    newsroom, monkeypatch
):
    story, issue, client = newsroom["story"], newsroom["issue"], newsroom["client"]
    form = uncited_rewrite(client, story)
    # The publisher's schedule has checked the stories and marked the issue
    # scheduled, and has not committed yet.
    scheduling = PausedIn(monkeypatch, changes, "sync_issue_stories")
    publication = InThread(lambda: PUBLICATION["schedule"](newsroom["publisher"], issue))
    scheduling.wait()

    edit = InThread(lambda: client.post(change_url(story), form, follow=True))
    edit.wait_until_blocked_or_done()
    scheduling.release()
    publication.join(), edit.join()

    assert publication.error is None and edit.error is None
    assert messages_of(edit.result) == [f"Not saved: {scheduled_lock(issue)}"]
    assert_went_out_as_approved(story, issue)
