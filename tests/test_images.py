"""Lead images: checked by content at upload, resized for srcset once."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from stories import images
from stories.images import LeadImageFormField, validate_lead_image
from stories.models import Story
from tests.factories import StoryFactory
from tests.reader_helpers import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(data: bytes, name="photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def story_with_image(data: bytes, name="photo.jpg") -> Story:
    story = StoryFactory(lead_image_alt="A test picture")
    story.lead_image = upload(data, name)
    story.save()
    return story


def test_upload_makes_webp_renditions_narrower_than_the_original():
    story = story_with_image(image_bytes(1600, 900))
    renditions = story.lead_image_renditions
    assert renditions["width"] == 1600 and renditions["height"] == 900
    assert renditions["source"] == story.lead_image.name
    assert sorted(renditions["files"], key=int) == ["480", "960", "1440"]
    for width, path in renditions["files"].items():
        with default_storage.open(path) as stored, Image.open(stored) as image:
            assert image.format == "WEBP"
            assert image.size == (int(width), round(900 * int(width) / 1600))


def test_srcset_lists_every_rendition_and_the_original():
    story = story_with_image(image_bytes(1000, 500))
    srcset = images.srcset(story.lead_image, story.lead_image_renditions)
    candidates = [c.rsplit(" ", 1)[1] for c in srcset.split(", ")]
    assert candidates == ["480w", "960w", "1000w"]
    assert story.lead_image.url in srcset


def test_a_small_image_gets_no_renditions_and_is_served_as_is():
    story = story_with_image(image_bytes(400, 300))
    assert story.lead_image_renditions["files"] == {}
    assert images.srcset(story.lead_image, story.lead_image_renditions).endswith(" 400w")


def test_saving_again_with_the_same_image_does_not_redo_the_renditions(monkeypatch):
    story = story_with_image(image_bytes(1200, 800))
    calls = []
    monkeypatch.setattr("stories.models.content.make_renditions", lambda f: calls.append(f) or {})
    story.headline = "Edited headline"
    story.save()
    assert calls == []
    story.lead_image = upload(image_bytes(1300, 800), "other.png")
    story.save()
    assert len(calls) == 1


def test_removing_the_image_clears_its_renditions():
    story = story_with_image(image_bytes(1200, 800))
    story.lead_image = None
    story.save()
    assert story.lead_image_renditions == {}


def test_a_stored_image_that_went_missing_does_not_block_saving_the_story():
    story = story_with_image(image_bytes(1200, 800))
    default_storage.delete(story.lead_image.name)
    story.lead_image_renditions = {}
    story.save()  # logs a warning instead of failing
    assert story.lead_image_renditions == {}


def test_a_text_file_named_like_a_jpeg_is_refused():
    with pytest.raises(ValidationError, match="not an image we can read"):
        validate_lead_image(upload(b"<script>alert(1)</script>", "evil.jpg"))


def test_formats_other_than_jpeg_png_webp_gif_are_refused():
    with pytest.raises(ValidationError, match="BMP images are not accepted"):
        validate_lead_image(upload(image_bytes(50, 50, fmt="BMP"), "old.bmp"))
    for fmt in ("JPEG", "PNG", "WEBP", "GIF"):
        validate_lead_image(upload(image_bytes(50, 50, fmt=fmt), f"ok.{fmt.lower()}"))


def test_files_over_the_byte_limit_are_refused_with_both_sizes(settings):
    settings.NEWSROOM_IMAGE_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as refused:
        validate_lead_image(upload(image_bytes(400, 400) + b"\0" * 2000))
    (message,) = refused.value.messages
    assert message.startswith("This image is ")
    assert "the limit is 1000\xa0bytes" in message


def test_images_over_the_pixel_limit_are_refused_with_their_dimensions(settings):
    settings.NEWSROOM_IMAGE_MAX_PIXELS = 10_000
    with pytest.raises(ValidationError, match="200 × 100 pixels; the limit is 10,000"):
        validate_lead_image(upload(image_bytes(200, 100, fmt="PNG"), "wide.png"))


def test_a_decompression_bomb_is_refused_before_it_is_decoded(settings, monkeypatch):
    # Pillow refuses outright beyond twice its own limit; shrink that limit so
    # a small test file counts as a bomb.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    settings.NEWSROOM_IMAGE_MAX_PIXELS = 1_000_000
    with pytest.raises(ValidationError, match="far too big"):
        validate_lead_image(upload(image_bytes(100, 100, fmt="PNG"), "bomb.png"))


def test_the_admin_form_field_explains_the_refusal_instead_of_a_generic_error(settings):
    field = Story._meta.get_field("lead_image").formfield()
    assert isinstance(field, LeadImageFormField)
    settings.NEWSROOM_IMAGE_MAX_PIXELS = 10_000
    with pytest.raises(ValidationError, match="pixels"):
        field.clean(upload(image_bytes(200, 100, fmt="PNG"), "wide.png"))
    assert field.clean(upload(image_bytes(50, 50))) is not None


def test_model_validation_runs_the_checks_on_a_new_upload_only(settings):
    story = story_with_image(image_bytes(300, 200))
    settings.NEWSROOM_IMAGE_MAX_PIXELS = 10  # stored images are not re-checked
    story.full_clean()
    story.lead_image = upload(image_bytes(300, 200))
    with pytest.raises(ValidationError) as refused:
        story.full_clean()
    assert "lead_image" in refused.value.message_dict
