from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError

from stories.models import Issue, IssueItem, Source, Story
from stories.models.versioned import VersionedModel
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


@pytest.mark.parametrize(
    ("factory", "field"),
    [(StoryFactory, "dek"), (IssueFactory, "headline")],
    ids=["story", "issue"],
)
def test_every_save_bumps_the_version_and_the_update_time(factory, field):
    record = factory()
    before = record.version
    record.save()
    later = record.updated_at + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        setattr(record, field, "Changed alone")
        record.save(update_fields=[field])
    record.refresh_from_db()
    assert record.version == before + 2
    assert record.updated_at == later


def test_every_model_with_a_version_takes_it_from_the_versioned_base():
    # One rule for bumping it: a model that declared its own version field
    # would need its own save() to bump it, and an edit form's check against
    # it would let a save over someone else's change through.
    versioned = [m for m in apps.get_models() if "version" in {f.name for f in m._meta.fields}]
    assert {Story, Issue} <= set(versioned)
    assert all(issubclass(model, VersionedModel) for model in versioned)


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
