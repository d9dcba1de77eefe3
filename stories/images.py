"""Lead images: what an upload must be, and the resized copies readers get.

Uploads are checked by their content, not their name: Pillow must recognise
them as one of a few web formats, within a byte and a pixel budget, before
anything decodes the pixels (a small file can claim billions of pixels and
exhaust memory when decoded: a decompression bomb).

Renditions are derived data, made once when the image changes (Story.save)
and served through ``srcset`` so a phone downloads a phone-sized file.
"""

import io
import warnings
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF"}
# Widths offered to browsers through srcset; only those narrower than the
# original are made, and the original itself is always the widest candidate.
RENDITION_WIDTHS = (480, 960, 1440)
RENDITION_DIRECTORY = "lead-images/renditions"


def _limits() -> tuple[int, int]:
    return settings.NEWSROOM_IMAGE_MAX_BYTES, settings.NEWSROOM_IMAGE_MAX_PIXELS


def validate_lead_image(file) -> None:
    """Refuse anything but a JPEG, PNG, WebP or GIF within the size limits,
    with a sentence saying which rule the file broke."""
    if not file or getattr(file, "_committed", False):
        return  # already stored: it was checked when it was uploaded
    max_bytes, max_pixels = _limits()
    size = getattr(file, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(
            f"This image is {filesizeformat(size)}; the limit is {filesizeformat(max_bytes)}. "
            "Export it smaller and upload it again.",
            code="image_too_large",
        )
    position = file.tell() if hasattr(file, "tell") else 0
    try:
        with warnings.catch_warnings():
            # Our own pixel limit applies below; Pillow's warning is redundant.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                kind = image.format
                width, height = image.size
                if width * height > max_pixels:
                    raise _too_many_pixels(width, height, max_pixels)
                image.verify()
            # verify() checks a PNG's structure but not a JPEG's, WebP's or
            # GIF's: decode the pixels too (their number is within the budget
            # now) so a truncated or corrupt file is refused here, not stored.
            file.seek(position)
            with Image.open(file) as image:
                image.load()
    except Image.DecompressionBombError:
        raise _too_many_pixels(None, None, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            "This file is not an image we can read. Upload a JPEG, PNG, WebP or GIF.",
            code="not_an_image",
        ) from None
    finally:
        if hasattr(file, "seek"):
            file.seek(position)
    if kind not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{kind} images are not accepted. Upload a JPEG, PNG, WebP or GIF.",
            code="image_format",
        )


def _too_many_pixels(width, height, max_pixels) -> ValidationError:
    measured = f"This image is {width} × {height} pixels" if width else "This image is far too big"
    return ValidationError(
        f"{measured}; the limit is {max_pixels:,} pixels in all. "
        "Resize it (2,000 pixels wide is plenty for the web) and upload it again.",
        code="image_too_many_pixels",
    )


class LeadImageFormField(forms.ImageField):
    """Runs our checks before Django's own Pillow check, whose one message
    ("not an image or a corrupted image") would hide why a file was refused."""

    def to_python(self, data):
        if data not in self.empty_values:
            validate_lead_image(data)
        return super().to_python(data)


class LeadImageField(models.ImageField):
    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": LeadImageFormField, **kwargs})


def make_renditions(file) -> dict:
    """Resize a stored image to RENDITION_WIDTHS as WebP files.

    Returns what Story.lead_image_renditions holds: the original's size, the
    file it was made from (so an unchanged image is not redone) and
    {width: storage path} for each rendition.
    """
    file.open("rb")
    try:
        with Image.open(file) as original:
            original = ImageOps.exif_transpose(original)
            width, height = original.size
            files = {}
            stem = PurePosixPath(file.name).stem
            for target in RENDITION_WIDTHS:
                if target >= width:
                    break
                copy = original.copy()
                copy.thumbnail((target, round(height * target / width)), Image.Resampling.LANCZOS)
                if copy.mode not in ("RGB", "RGBA"):
                    copy = copy.convert("RGBA" if "A" in copy.getbands() else "RGB")
                buffer = io.BytesIO()
                copy.save(buffer, format="WEBP", quality=80, method=4)
                name = f"{RENDITION_DIRECTORY}/{stem}-{target}w.webp"
                files[str(target)] = default_storage.save(name, ContentFile(buffer.getvalue()))
    finally:
        file.close()
    return {"source": file.name, "width": width, "height": height, "files": files}


def renditions_are_current(renditions: dict, file) -> bool:
    return bool(renditions) and renditions.get("source") == file.name


def rendition_files(renditions: dict) -> list[str]:
    """The storage paths of the resized copies a lead_image_renditions value
    names (its other keys are the source's name and size, not files)."""
    files = renditions.get("files") if isinstance(renditions, dict) else None
    if not isinstance(files, dict):
        return []
    return [path for path in files.values() if isinstance(path, str) and path]


def srcset(file, renditions: dict) -> str:
    """The srcset attribute's value: every rendition plus the original."""
    if not file:
        return ""
    candidates = [
        f"{default_storage.url(path)} {width}w"
        for width, path in sorted(renditions.get("files", {}).items(), key=lambda i: int(i[0]))
    ]
    if renditions.get("width"):
        candidates.append(f"{file.url} {renditions['width']}w")
    return ", ".join(candidates)
