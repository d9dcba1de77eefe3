import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from stories.models import Issue, IssueItem, Source, Story
from tests.factories import IssueFactory, StoryFactory, UserFactory, approved_story

pytestmark = pytest.mark.django_db


def test_story_slug_is_filled_from_the_headline_and_kept_unique():
    first = StoryFactory(headline="AI's Sputnik Moment")
    second = StoryFactory(headline="AI's Sputnik Moment")
    assert first.slug == "ais-sputnik-moment"
    assert second.slug == "ais-sputnik-moment-2"


def test_story_renders_every_markdown_field_on_save():
    story = StoryFactory(
        tldr="**Short**",
        why_it_matters="- one\n- two\n- three",
        key_points="- **Cost:** low",
        body="Para",
    )
    assert story.tldr_html == "<p><strong>Short</strong></p>\n"
    assert story.why_it_matters_html.count("<li>") == 3
    assert "<strong>Cost:</strong>" in story.key_points_html
    assert story.body_html == "<p>Para</p>\n"


def test_saving_some_fields_still_rerenders_their_html():
    story = StoryFactory(body="old")
    story.body = "new"
    story.save(update_fields=["body"])
    story.refresh_from_db()
    assert story.body_html == "<p>new</p>\n"


def test_every_save_bumps_the_version():
    story = StoryFactory()
    before = story.version
    story.save()
    story.save(update_fields=["dek"])
    story.refresh_from_db()
    assert story.version == before + 2


def test_lead_image_needs_alt_text():
    story = StoryFactory.build(created_by=UserFactory())
    story.lead_image = SimpleUploadedFile("x.jpg", b"not checked here")
    with pytest.raises(ValidationError) as error:
        story.clean()
    assert "lead_image_alt" in error.value.message_dict


def test_issue_numbers_are_unique():
    IssueFactory(number=7)
    with pytest.raises(IntegrityError):
        IssueFactory(number=7)


def test_a_story_appears_once_per_issue():
    issue = IssueFactory()
    story = approved_story()
    IssueItem.objects.create(issue=issue, story=story, position=1)
    with pytest.raises(IntegrityError):
        IssueItem.objects.create(issue=issue, story=story, position=2)


def test_issue_stories_keep_their_order():
    issue = IssueFactory()
    a, b, c = (approved_story(headline=h) for h in "abc")
    for story, position in [(b, 2), (c, 3), (a, 1)]:
        IssueItem.objects.create(issue=issue, story=story, position=position)
    assert [i.story.headline for i in issue.items.all()] == ["a", "b", "c"]


def test_source_gets_a_slug():
    assert Source.objects.create(name="The New York Times").slug == "the-new-york-times"


def test_new_story_and_issue_start_as_drafts():
    assert StoryFactory().status == Story.Status.DRAFT
    assert IssueFactory().status == Issue.Status.DRAFT


def test_markdown_in_issue_intro_is_rendered_safely():
    issue = IssueFactory(intro="Picks from **The Sequence Radar** <script>x</script>")
    assert "<strong>The Sequence Radar</strong>" in issue.intro_html
    assert "<script>" not in issue.intro_html
