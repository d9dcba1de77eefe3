"""Lead images: what an upload must be, and the resized copies readers get.

An upload is judged by its content, never by its name or the type the
browser claimed: its first bytes (the format's magic number) must be those
of a JPEG, PNG, WebP or GIF before any decoder sees it; Pillow then opens it
with that one format's decoder only, reads its dimensions from the header
and refuses more pixels than the budget before decoding anything (a small
file can claim billions of pixels: a decompression bomb), refuses animation,
and decodes the rest so a truncated or corrupt file is refused at upload and
never stored. The stored name takes the extension of the detected format,
so everything that derives a media type from the name (the bucket,
the web server, the app's own media view, feed enclosures) tells the truth,
and requests too big to carry an acceptable image are refused before their
body is read.

Renditions are derived data, made once when the image changes (Story.save)
and served through ``srcset`` so a phone downloads a phone-sized file.
"""

import io
import posixpath
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from django import forms
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models
from django.db.models.fields.files import ImageFieldFile
from django.http import Http404, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.cache import patch_cache_control
from django.views.static import serve
from PIL import Image, ImageOps

# Widths offered to browsers through srcset; only those narrower than the
# original are made, and the original itself is always the widest candidate.
RENDITION_WIDTHS = (480, 960, 1440)
RENDITION_DIRECTORY = "lead-images/renditions"
ACCEPTED = "Upload a JPEG, PNG, WebP or GIF."


@dataclass(frozen=True)
class ImageFormat:
    """An accepted format: Pillow's name for it, how people write it, the
    extension a stored file gets and the media type it is served with."""

    pillow: str
    label: str
    extension: str
    media_type: str
    # Whether the format can hold an animation (JPEG cannot: several
    # pictures in one, MPO, are a camera's extra views, not frames).
    animates: bool


JPEG = ImageFormat("JPEG", "JPEG", ".jpg", "image/jpeg", animates=False)
PNG = ImageFormat("PNG", "PNG", ".png", "image/png", animates=True)
WEBP = ImageFormat("WEBP", "WebP", ".webp", "image/webp", animates=True)
GIF = ImageFormat("GIF", "GIF", ".gif", "image/gif", animates=True)
FORMATS = (JPEG, PNG, WEBP, GIF)
# Bytes read to recognise a format: enough for every signature below.
HEAD_BYTES = 16


def detect_format(head: bytes) -> ImageFormat | None:
    """The accepted format a file's first bytes announce, if any."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def _other_format(head: bytes) -> str | None:
    """The name of a format we do not accept, for the refusal to say which
    rule the file broke; None for anything else."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    signatures = {
        b"BM": "BMP",
        b"II*\x00": "TIFF",
        b"MM\x00*": "TIFF",
        b"%PDF": "PDF",
        b"%!PS": "PostScript",
        b"\x00\x00\x01\x00": "ICO",
    }
    for signature, name in signatures.items():
        if head.startswith(signature):
            return name
    if head[4:8] == b"ftyp":
        return "AVIF" if head[8:12] in (b"avif", b"avis") else "HEIC"
    if text.startswith((b"<svg", b"<?xml", b"<!--")):
        return "SVG"
    return None


def _read_head(file) -> bytes:
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    return head


def _limits() -> tuple[int, int]:
    return settings.NEWSROOM_IMAGE_MAX_BYTES, settings.NEWSROOM_IMAGE_MAX_PIXELS


def validate_lead_image(file) -> None:
    """Refuse anything but a still JPEG, PNG, WebP or GIF within the size
    limits, with a sentence saying which rule the file broke."""
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
    head = _read_head(file)
    kind = detect_format(head)
    if kind is None:
        other = _other_format(head)
        if other:
            raise ValidationError(
                f"{other} images are not accepted. {ACCEPTED}", code="image_format"
            )
        raise ValidationError(
            f"This file is not an image we can read. {ACCEPTED}", code="not_an_image"
        )
    width, height, animated = _decode(file, kind)
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    if animated:
        raise ValidationError(
            "This image is animated; a lead image is a still picture (its smaller copies for "
            f"phones could not move). Export one frame of it and upload that. {ACCEPTED}",
            code="image_animated",
        )


def _decode(file, kind: ImageFormat) -> tuple[int, int, bool]:
    """The image's size and whether it is animated, read with kind's decoder
    alone, decoding its pixels only when their number is within the budget.

    Pillow's errors on a hostile file are many (OSError, SyntaxError,
    ValueError, EOFError, struct.error...): any of them means the file is not
    an image we can read.
    """
    _, max_pixels = _limits()
    try:
        with warnings.catch_warnings():
            # Our own pixel limit applies; Pillow's warning is redundant.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file, formats=[kind.pillow]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return width, height, False
                if kind.animates and getattr(image, "is_animated", False):
                    return width, height, True
                image.verify()
            # verify() checks a PNG's structure but not a JPEG's, WebP's or
            # GIF's: decode the pixels too, and turn them upright as the
            # renditions will, so a file that would break them is refused here.
            file.seek(0)
            with Image.open(file, formats=[kind.pillow]) as image:
                image.load()
                ImageOps.exif_transpose(image, in_place=True)
    except Image.DecompressionBombError:
        raise _too_many_pixels(None, None, max_pixels) from None
    except Exception:
        raise ValidationError(
            f"This file is not an image we can read. {ACCEPTED}", code="not_an_image"
        ) from None
    finally:
        file.seek(0)
    return width, height, False


def _too_many_pixels(width, height, max_pixels) -> ValidationError:
    measured = f"This image is {width} × {height} pixels" if width else "This image is far too big"
    return ValidationError(
        f"{measured}; the limit is {max_pixels:,} pixels in all. "
        "Resize it (2,000 pixels wide is plenty for the web) and upload it again.",
        code="image_too_many_pixels",
    )


def stored_name(name: str, kind: ImageFormat) -> str:
    """name with the extension of the format its content is in: a PNG
    uploaded as "chart.pdf" is stored as "chart.png"."""
    return posixpath.splitext(name)[0] + kind.extension


class LeadImageFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        """Store content under the extension of its detected format.

        The one way a lead image reaches storage, so no stored file can be
        named as something it is not. A file that is not one of the
        accepted formats (nothing validated it) is refused, not stored.
        """
        kind = detect_format(_read_head(content))
        if kind is None:
            raise ValidationError(
                f"This file is not an image we can read. {ACCEPTED}", code="not_an_image"
            )
        super().save(stored_name(name, kind), content, save)


class LeadImageFormField(forms.ImageField):
    """Runs our checks before Django's own Pillow check, whose one message
    ("not an image or a corrupted image") would hide why a file was refused.

    Django's check of the name's extension is left out: it accepts any
    extension Pillow can write (.pdf, .ps, .mpg, .ico...), and a name proves
    nothing either way. The content decides, and the stored name follows it
    (LeadImageFieldFile), so an editor's "photo.jpg" that is really a WebP,
    as browsers often save them, is simply stored as "photo.webp".
    """

    default_validators = []

    def to_python(self, data):
        if data not in self.empty_values:
            validate_lead_image(data)
        return super().to_python(data)


class LeadImageField(models.ImageField):
    attr_class = LeadImageFieldFile

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": LeadImageFormField, **kwargs})


# -- requests too big to carry an acceptable image ------------------------------

# Room in a request for what surrounds the image: multipart headers and
# boundaries (the form's own fields are bounded by DATA_UPLOAD_MAX_MEMORY_SIZE).
FORM_FRAMING_BYTES = 64 * 1024


def largest_request_body() -> int:
    """The most bytes a request holding an acceptable lead image can send:
    the image limit, the form's fields and the framing around them."""
    fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440  # Django's default
    return settings.NEWSROOM_IMAGE_MAX_BYTES + fields + FORM_FRAMING_BYTES


class UploadSizeLimitMiddleware:
    """Refuse a request whose declared body is larger than any acceptable
    upload, before a byte of it is read.

    Django would otherwise stream it whole to a temporary file (uploads over
    FILE_UPLOAD_MAX_MEMORY_SIZE go to disk; DATA_UPLOAD_MAX_MEMORY_SIZE
    counts only the form's other fields) and the size check would come after.
    A WSGI request body is never read past its Content-Length, so that
    number bounds everything that follows; within it, an image over the limit
    is refused by validate_lead_image with its own size in the sentence.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body it cannot measure
        if length > largest_request_body():
            return HttpResponse(
                f"This upload is {filesizeformat(length)}; a lead image may be at most "
                f"{filesizeformat(settings.NEWSROOM_IMAGE_MAX_BYTES)}. "
                "Go back and choose a smaller file.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


# -- uploads served by the app itself (NEWSROOM_SERVE_MEDIA) ------------------


# How long browsers and proxies may keep an uploaded image without asking
# again. A stored name does not change with its content (a replaced file may
# come back under the same name once the old one is deleted), so no upload
# is marked immutable; after a day a client revalidates, and Last-Modified
# makes that a 304.
MEDIA_MAX_AGE = 24 * 60 * 60


def serve_media(request, path):
    """An uploaded image as the app serves it: with the media type of the
    format its first bytes announce, whatever its name, and only if that is
    an accepted format (files stored before names followed content, or put
    in the media directory by hand, are not served as anything else)."""
    storage = FileSystemStorage(location=settings.MEDIA_ROOT)
    try:
        with storage.open(path) as stored:
            kind = detect_format(stored.read(HEAD_BYTES))
    except (OSError, SuspiciousFileOperation):
        raise Http404("No such image.") from None
    if kind is None:
        raise Http404("No such image.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if response.status_code == 200:
        response.headers.pop("Content-Encoding", None)  # an image is never served encoded
        response["Content-Type"] = kind.media_type
    if response.status_code in (200, 304):
        patch_cache_control(response, public=True, max_age=MEDIA_MAX_AGE)
    return response


def make_renditions(file) -> dict:
    """Resize a stored image to RENDITION_WIDTHS as WebP files.

    Returns what Story.lead_image_renditions holds: the original's size, the
    file it was made from (so an unchanged image is not redone) and
    {width: storage path} for each rendition. A file that cannot be made
    into renditions raises OSError, whatever Pillow raised: a stored file
    was checked at upload, but one restored or put in storage by hand was not,
    so it gets the same pixel budget before anything decodes it.
    """
    file.open("rb")
    try:
        with Image.open(file, formats=[kind.pillow for kind in FORMATS]) as original:
            width, height = original.size
            if width * height > settings.NEWSROOM_IMAGE_MAX_PIXELS:
                raise OSError(f"{file.name} is {width} × {height} pixels, over the budget")
            original = ImageOps.exif_transpose(original)
            width, height = original.size
            files = {}
            stem = PurePosixPath(file.name).stem
            for target in RENDITION_WIDTHS:
                if target >= width:
                    break
                copy = original.copy()
                # At least one pixel high, however wide and flat the original.
                size = (target, max(1, round(height * target / width)))
                copy.thumbnail(size, Image.Resampling.LANCZOS)
                if copy.mode not in ("RGB", "RGBA"):
                    copy = copy.convert("RGBA" if "A" in copy.getbands() else "RGB")
                buffer = io.BytesIO()
                copy.save(buffer, format="WEBP", quality=80, method=4)
                name = f"{RENDITION_DIRECTORY}/{stem}-{target}w.webp"
                files[str(target)] = default_storage.save(name, ContentFile(buffer.getvalue()))
    except OSError:
        raise
    except Exception as error:  # SyntaxError, ValueError, DecompressionBombError...
        raise OSError(f"Cannot make renditions of {file.name}: {error}") from error
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
