"""Shared set-up for the reader's site tests: the demo newsroom and HTML parsing."""

import importlib
import io
import json
from html.parser import HTMLParser

from django.core.management import call_command
from PIL import Image


def load_demo_newsroom(settings, tmp_path) -> None:
    """The four pieces of CONTENT.md, plus drafts and a scheduled issue."""
    settings.MEDIA_ROOT = tmp_path
    call_command("load_demo", stdout=io.StringIO())


def ensure_editorial_groups() -> None:
    """Recreate the groups a data migration made, after a test database flush."""
    from django.contrib.auth.models import Group, Permission

    roles = importlib.import_module("stories.migrations.0002_editorial_groups").GROUPS
    for name, codenames in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="stories", codename__in=codenames)
        )


def image_bytes(width=1600, height=900, fmt="JPEG", colour=(20, 40, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


class _HeadParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta = {}
        self.links = {}
        self.json_ld = []
        self._in_json_ld = False
        self._buffer = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            key = attrs.get("property") or attrs.get("name")
            if key:
                self.meta[key] = attrs.get("content")
        elif tag == "link" and attrs.get("rel"):
            self.links[attrs["rel"]] = attrs.get("href")
        elif tag == "script" and attrs.get("type") == "application/ld+json":
            self._in_json_ld, self._buffer = True, ""

    def handle_data(self, data):
        if self._in_json_ld:
            self._buffer += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in_json_ld:
            self.json_ld.append(json.loads(self._buffer))
            self._in_json_ld = False


def head_of(response):
    """The page's meta tags, link rels and parsed JSON-LD blocks."""
    parser = _HeadParser()
    parser.feed(response.content.decode())
    return parser


# Where the demo's issues live: the numbered digest is the default newsletter
# (made by the migration), the radar and the commentary post have their own.
DEMO_ISSUE_URLS = {
    1: "/newsletters/reels-thrills-and-bills/issues/1/",
    2: "/newsletters/the-newsroom/issues/2/",
    3: "/newsletters/the-newsroom/issues/3/",
    4: "/newsletters/weekly-radar/issues/4/",
    5: "/newsletters/the-newsroom/issues/5/",
}
