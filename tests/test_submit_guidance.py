"""A writer learns at "Submit for review" what approval will require, as a
warning on the form rather than a refusal after the editor's round trip."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from stories.models import Story
from tests.factories import StoryFactory
from tests.reader_helpers import image_bytes
from tests.story_admin import change_url, messages_of, transition_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def uncited_story_with_uncredited_image(writer) -> Story:
    story = StoryFactory(created_by=writer, cited=False, lead_image_alt="A satellite")
    story.lead_image = SimpleUploadedFile("sat.png", image_bytes(fmt="PNG"))
    story.save()
    return story


def needs_block(html: str) -> str:
    start = html.index('id="approval-needs"')
    return html[start : html.index("</div>", start)]


def test_the_submit_button_says_what_approval_will_need(client, writer):
    story = uncited_story_with_uncredited_image(writer)
    client.force_login(writer)
    html = client.get(change_url(story)).content.decode()
    block = needs_block(html)
    assert "<li>Cite at least one source</li>" in block
    assert "<li>Credit the lead image</li>" in block
    assert "alt text" not in block  # it has some
    assert 'aria-describedby="approval-needs"' in html


def test_a_story_that_meets_the_rules_gets_no_warning(client, writer):
    story = StoryFactory(created_by=writer)  # cited, no image
    client.force_login(writer)
    html = client.get(change_url(story)).content.decode()
    assert "Submit for review" in html
    assert 'id="approval-needs"' not in html


def test_submitting_anyway_goes_through_with_a_warning_naming_what_is_missing(client, writer):
    story = uncited_story_with_uncredited_image(writer)
    client.force_login(writer)
    response = client.post(transition_url(story, "submit"), follow=True)
    story.refresh_from_db()
    assert story.status == Story.Status.IN_REVIEW
    said = messages_of(response)
    assert any("is now in review" in m for m in said)
    (warning,) = [m for m in said if "cannot approve" in m]
    assert "until its authors cite at least one source and credit the lead image;" in warning


def test_the_warning_is_not_shown_to_an_editor_reviewing(client, writer, editor):
    from stories.editorial import workflow

    story = uncited_story_with_uncredited_image(writer)
    workflow.submit_for_review(writer, story)
    client.force_login(editor)
    html = client.get(change_url(story)).content.decode()
    assert "Approve" in html and 'id="approval-needs"' not in html
