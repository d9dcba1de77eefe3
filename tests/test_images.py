"""Lead images: checked by content at upload, resized for srcset once."""

import io
import mimetypes
import os
from pathlib import PurePosixPath

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
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


# -- what an upload is: its first bytes decide, never its name -----------------

EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}


def noisy_image(fmt: str, width=200, height=150) -> bytes:
    """An image of random pixels: it does not compress, so cutting it leaves pixels out."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    (image.convert("P") if fmt == "GIF" else image).save(buffer, format=fmt)
    return buffer.getvalue()


def animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (30, 20), (80 * n, 40, 90)) for n in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
NOT_ACCEPTED = {
    "an SVG": (SVG, "SVG images are not accepted"),
    "an SVG without its XML line": (b"  <svg onload=alert(1)>", "SVG images are not accepted"),
    "a PDF": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF images are not accepted"),
    "a PostScript file": (b"%!PS-Adobe-3.0\n", "PostScript images are not accepted"),
    "an iPhone's HEIC": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC images are not"),
    "a BMP": (image_bytes(20, 20, fmt="BMP"), "BMP images are not accepted"),
    "a TIFF": (image_bytes(20, 20, fmt="TIFF"), "TIFF images are not accepted"),
    "an ICO": (image_bytes(16, 16, fmt="ICO"), "ICO images are not accepted"),
    "an HTML page": (b"<!doctype html><script>alert(1)</script>", "not an image we can read"),
    "a few bytes": (b"\x89PN", "not an image we can read"),
}


@pytest.mark.parametrize("case", NOT_ACCEPTED)
def test_the_format_is_read_from_the_first_bytes_before_any_decoder_sees_the_file(
    monkeypatch, case
):
    data, said = NOT_ACCEPTED[case]
    opened = []
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: opened.append(args))
    with pytest.raises(ValidationError, match=said):
        validate_lead_image(upload(data, "looks-fine.png"))
    assert opened == []


def test_pillow_reads_an_upload_only_with_the_decoder_of_the_format_it_announces(monkeypatch):
    formats = []
    real_open = Image.open

    def recording_open(file, *args, **kwargs):
        formats.append(kwargs.get("formats"))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(Image, "open", recording_open)
    validate_lead_image(upload(image_bytes(40, 30, fmt="PNG"), "photo.jpg"))
    assert formats and all(kinds == ["PNG"] for kinds in formats)


@pytest.mark.parametrize(
    "fmt, name",
    [
        ("PNG", "chart.pdf"),
        ("GIF", "chart.ps"),
        ("PNG", "clip.mpg"),
        ("GIF", "favicon.ico"),
        ("WEBP", "saved-from-a-browser.jpg"),
        ("JPEG", "camera.JPEG"),
        ("PNG", "no-extension"),
    ],
)
def test_an_image_is_stored_under_the_extension_of_the_format_it_is_in(fmt, name):
    field = Story._meta.get_field("lead_image").formfield()
    field.clean(upload(image_bytes(40, 30, fmt=fmt), name))  # accepted whatever its name
    story = story_with_image(image_bytes(40, 30, fmt=fmt), name)
    stored = PurePosixPath(story.lead_image.name)
    assert stored.suffix == EXTENSIONS[fmt]
    assert stored.stem.startswith(PurePosixPath(name).stem)
    assert mimetypes.guess_type(stored.name)[0] == f"image/{fmt.lower()}"
    with default_storage.open(story.lead_image.name) as file, Image.open(file) as image:
        assert image.format == fmt


def test_a_file_that_is_no_accepted_image_is_never_stored_even_unvalidated(media):
    story = StoryFactory(lead_image_alt="Not a picture")
    story.lead_image = upload(SVG, "chart.png")
    with pytest.raises(ValidationError, match="not an image we can read"):
        story.save()
    assert list(media.rglob("*.*")) == []


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animated_image_is_refused_with_a_sentence(fmt):
    with pytest.raises(ValidationError, match="This image is animated; a lead image is a still"):
        validate_lead_image(upload(animation(fmt), f"moving{EXTENSIONS[fmt]}"))


def test_a_jpeg_holding_a_cameras_second_picture_is_still_a_jpeg():
    front, depth = Image.new("RGB", (60, 40), (200, 0, 0)), Image.new("RGB", (60, 40))
    buffer = io.BytesIO()
    front.save(buffer, format="MPO", save_all=True, append_images=[depth])
    validate_lead_image(upload(buffer.getvalue(), "phone.jpg"))
    assert story_with_image(buffer.getvalue(), "phone.jpg").lead_image.name.endswith(".jpg")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_a_truncated_file_of_each_format_is_refused(fmt):
    data = noisy_image(fmt)
    validate_lead_image(upload(data, f"whole{EXTENSIONS[fmt]}"))
    with pytest.raises(ValidationError, match="not an image we can read"):
        validate_lead_image(upload(data[: len(data) * 2 // 3], f"cut{EXTENSIONS[fmt]}"))


def test_a_very_wide_flat_image_gets_renditions_one_pixel_high():
    story = story_with_image(image_bytes(3000, 1, fmt="PNG"), "rule.png")
    assert sorted(story.lead_image_renditions["files"], key=int) == ["480", "960", "1440"]
    path = story.lead_image_renditions["files"]["480"]
    with default_storage.open(path) as stored, Image.open(stored) as image:
        assert image.size == (480, 1)


@pytest.mark.parametrize("budget, pillow_limit", [(1_000, None), (1_000_000, 1_000)])
def test_a_stored_file_over_the_pixel_budget_is_not_decoded_for_renditions(
    settings, monkeypatch, budget, pillow_limit
):
    """A file restored from a backup or copied into storage by hand was never
    checked at upload: making its renditions stops before decoding it, at the
    newsroom's budget or at Pillow's own limit, and the story still saves."""
    settings.NEWSROOM_IMAGE_MAX_PIXELS = budget
    if pillow_limit:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    path = default_storage.save("lead-images/restored.png", ContentFile(image_bytes(300, 100)))
    story = StoryFactory(lead_image=path, lead_image_alt="Restored")
    assert story.lead_image_renditions == {}
    story.headline = "Edited after the restore"
    story.save()


# -- requests too big to hold an acceptable image ----------------------------------


class EndlessUpload:
    """A request body of zeros as long as asked, counting what is read of it."""

    def __init__(self):
        self.read_bytes = 0

    def read(self, size=-1):
        size = 64 * 1024 if size is None or size < 0 else size
        self.read_bytes += size
        return b"\0" * size

    def readline(self, size=-1):
        return self.read(size)


def test_a_150_mb_upload_is_refused_before_its_body_is_read(client, writer):
    client.force_login(writer)
    body = EndlessUpload()
    response = client.generic(
        "POST",
        reverse("admin:stories_story_add"),
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(150 * 1024 * 1024),
        **{"wsgi.input": body},
    )
    assert response.status_code == 413
    said = response.content.decode()
    assert said.startswith("This upload is 150.0\xa0MB; a lead image may be at most 10.0\xa0MB.")
    assert body.read_bytes == 0


def test_an_image_a_little_over_the_limit_is_refused_by_the_form_with_its_size(
    client, writer, settings
):
    settings.NEWSROOM_IMAGE_MAX_BYTES = 2_000
    client.force_login(writer)
    response = client.post(
        reverse("admin:stories_story_add"),
        {
            "headline": "A story with a big picture",
            "lead_image": upload(noisy_image("PNG", 60, 60), "big.png"),
            "lead_image_alt": "Noise",
            "topics-TOTAL_FORMS": "0",
            "topics-INITIAL_FORMS": "0",
            "citations-TOTAL_FORMS": "0",
            "citations-INITIAL_FORMS": "0",
            "guest_bylines-TOTAL_FORMS": "0",
            "guest_bylines-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["lead_image"]
    assert error.startswith("This image is ") and "the limit is 2.0\xa0KB" in error
    assert not Story.objects.exists()
