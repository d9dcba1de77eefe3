"""Entering a story in the admin: addresses filled from the headline, and
uploads a refused form would otherwise lose."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from stories.models import Story
from tests.factories import SourceFactory, StoryFactory
from tests.reader_helpers import image_bytes
from tests.story_admin import messages_of

pytestmark = pytest.mark.django_db

EMPTY_INLINES = {
    "topics-TOTAL_FORMS": "0",
    "topics-INITIAL_FORMS": "0",
    "citations-TOTAL_FORMS": "0",
    "citations-INITIAL_FORMS": "0",
    "guest_bylines-TOTAL_FORMS": "0",
    "guest_bylines-INITIAL_FORMS": "0",
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def add_story(client, **fields):
    return client.post(reverse("admin:stories_story_add"), {**EMPTY_INLINES, **fields}, follow=True)


def test_a_slug_filled_from_the_headline_that_is_taken_gets_a_free_variant(client, writer):
    StoryFactory(headline="AI's Sputnik Moment", slug="ais-sputnik-moment")
    client.force_login(writer)
    response = add_story(
        client, headline="AI's Sputnik Moment", slug="ais-sputnik-moment", body="Text."
    )
    assert response.status_code == 200
    story = Story.objects.get(created_by=writer)
    assert story.slug == "ais-sputnik-moment-2"
    (warning,) = [m for m in messages_of(response) if "already uses the address" in m]
    assert "“ais-sputnik-moment”" in warning and "“ais-sputnik-moment-2”" in warning


def test_a_third_story_with_the_same_headline_gets_the_next_variant(client, writer):
    StoryFactory(headline="Same words", slug="same-words")
    StoryFactory(headline="Same words", slug="same-words-2")
    client.force_login(writer)
    add_story(client, headline="Same words", slug="same-words")
    assert Story.objects.get(created_by=writer).slug == "same-words-3"


def test_a_slug_typed_by_hand_that_is_taken_is_still_refused(client, writer):
    StoryFactory(headline="Older", slug="my-chosen-address")
    client.force_login(writer)
    response = add_story(client, headline="A new story", slug="my-chosen-address")
    assert "slug" in response.context["adminform"].form.errors
    assert not Story.objects.filter(created_by=writer).exists()


def test_an_untaken_slug_is_kept_without_a_warning(client, writer):
    client.force_login(writer)
    response = add_story(client, headline="Fresh words", slug="fresh-words")
    assert Story.objects.get(created_by=writer).slug == "fresh-words"
    assert not [m for m in messages_of(response) if "already uses" in m]


def test_a_form_refused_for_another_field_says_the_chosen_image_must_be_chosen_again(
    client, writer
):
    client.force_login(writer)
    picture = SimpleUploadedFile("satellite.png", image_bytes(fmt="PNG"), content_type="image/png")
    # No alt text: the form is refused for that field, not for the image.
    response = add_story(client, headline="With a picture", lead_image=picture)
    errors = response.context["adminform"].form.errors
    assert "lead_image_alt" in errors
    (said,) = errors["lead_image"]
    assert "satellite.png" in said and "choose it again" in said
    assert "satellite.png" in response.content.decode()


def test_a_form_refused_for_a_citation_row_says_the_image_must_be_chosen_again(client, writer):
    """The story's own fields are fine; a row below them is not."""
    source = SourceFactory()
    client.force_login(writer)
    picture = SimpleUploadedFile("satellite.png", image_bytes(fmt="PNG"), content_type="image/png")
    response = add_story(
        client,
        headline="With a picture and a bad link",
        lead_image=picture,
        lead_image_alt="A satellite",
        **{
            "citations-TOTAL_FORMS": "1",
            "citations-0-source": str(source.pk),
            "citations-0-url": "nytimes dot com slash deepseek",
            "citations-0-position": "1",
        },
    )
    assert not Story.objects.filter(created_by=writer).exists()
    (said,) = response.context["adminform"].form.errors["lead_image"]
    assert "satellite.png" in said and "choose it again" in said


def test_a_refused_form_without_an_upload_adds_no_image_warning(client, writer):
    client.force_login(writer)
    StoryFactory(slug="taken")
    response = add_story(client, headline="No picture", slug="taken")
    assert "lead_image" not in response.context["adminform"].form.errors


def test_an_image_refused_for_itself_keeps_its_own_reason(client, writer):
    client.force_login(writer)
    bogus = SimpleUploadedFile("notes.jpg", b"not an image at all", content_type="image/jpeg")
    response = add_story(client, headline="Bad picture", lead_image=bogus, lead_image_alt="x")
    (said,) = response.context["adminform"].form.errors["lead_image"]
    assert "choose it again" not in said
