"""What search engines and link previews read: titles, descriptions,
canonical addresses, Open Graph and Twitter cards, and JSON-LD.

Every address here is absolute, built from settings.SITE_URL, so a page
fetched through another host name still names its one canonical home.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

DESCRIPTION_LENGTH = 160
# The same escapes as Django's json_script: text inside a <script> element
# must never be able to close it or open a comment.
_SCRIPT_ESCAPES = {
    ord(">"): "\\u003E",
    ord("<"): "\\u003C",
    ord("&"): "\\u0026",
    ord("\u2028"): "\\u2028",
    ord("\u2029"): "\\u2029",
}


# The site's own images (static/img/): its square logo (publisher logo in
# JSON-LD, the JSON Feed's icon), a small square favicon, and the share image
# link previews show for a page with no lead image of its own.
SITE_LOGO = ("img/logo.png", 512, 512)
FAVICON = "img/favicon-64.png"
DEFAULT_SHARE_IMAGE = ("img/share.png", 1200, 630)


def absolute(url: str) -> str:
    """The absolute address on the public site of a path; an empty value and
    an address that is absolute already pass through. Pages, feeds, sitemaps
    and mail build every absolute address here, from SITE_URL, never from the
    Host header."""
    if not url or urlsplit(url).scheme:
        return url
    return settings.SITE_URL + url


def static_url(name: str) -> str:
    """The absolute address of one of the site's static files."""
    return absolute(static(name))


def plain_summary(*html_fragments: str) -> str:
    """The first non-empty fragment as plain text, cut to a description's length."""
    for html in html_fragments:
        text = " ".join(strip_tags(html or "").split())
        if text:
            return Truncator(text).chars(DESCRIPTION_LENGTH)
    return ""


def json_ld(data: dict) -> SafeString:
    """JSON for a <script type="application/ld+json"> element, safe to embed."""
    text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=None)
    return mark_safe(text.translate(_SCRIPT_ESCAPES))


@dataclass
class PageMeta:
    title: str
    description: str
    path: str
    og_type: str = "website"
    image: str = ""
    image_alt: str = ""
    published: datetime | None = None
    modified: datetime | None = None
    structured_data: dict = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        return absolute(self.path)

    @property
    def share_image(self) -> str:
        """What a link preview shows: the page's own image, else the site's."""
        return self.image or static_url(DEFAULT_SHARE_IMAGE[0])

    @property
    def share_image_alt(self) -> str:
        return self.image_alt if self.image else f"{settings.SITE_NAME} logo"

    @property
    def json_ld(self) -> SafeString:
        return json_ld(self.structured_data) if self.structured_data else mark_safe("")


def _publisher() -> dict:
    name, width, height = SITE_LOGO
    return {
        "@type": "Organization",
        "name": settings.SITE_NAME,
        "url": absolute("/"),
        "logo": {
            "@type": "ImageObject",
            "url": static_url(name),
            "width": width,
            "height": height,
        },
    }


def _person(author: dict) -> dict:
    return {
        "@type": "Person",
        "name": author["name"],
        "url": absolute(reverse("stories:author", args=[author["username"]])),
    }


def story_meta(story, linked_data: dict, public_date) -> PageMeta:
    """linked_data: the story's authors and cited works as kept with its
    rendered HTML (stories/publishing/fragments.py)."""
    image = absolute(story.lead_image.url) if story.lead_image else ""
    meta = PageMeta(
        title=story.headline,
        description=story.dek or plain_summary(story.tldr_html, story.body_html),
        path=story.get_absolute_url(),
        og_type="article",
        image=image,
        image_alt=story.lead_image_alt if image else "",
        published=public_date,
        modified=story.updated_at,
    )
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.headline[:110],
        "description": meta.description,
        "url": meta.canonical,
        "mainEntityOfPage": {"@type": "WebPage", "@id": meta.canonical},
        "author": [_person(author) for author in linked_data["authors"]]
        + [
            {
                "@type": "Person",
                "name": contributor["name"],
                "url": absolute(reverse("stories:contributor", args=[contributor["slug"]])),
            }
            for contributor in linked_data.get("contributors", ())
        ],
        "publisher": _publisher(),
        "dateModified": story.updated_at,
    }
    if linked_data.get("section"):
        data["articleSection"] = linked_data["section"]["name"]
    if public_date:
        data["datePublished"] = public_date
    # Rich results want an image on every article: its own, else the site's.
    data["image"] = [meta.share_image]
    cited = [
        {"@type": "CreativeWork", "name": work["name"], "url": work["url"]}
        if work["url"]
        else {"@type": "CreativeWork", "name": work["name"]}
        for work in linked_data["citations"]
    ]
    if cited:
        data["citation"] = cited
    meta.structured_data = data
    return meta


def issue_meta(issue, linked_data: dict, *, is_home: bool = False) -> PageMeta:
    """linked_data: the issue's stories and lead image as kept with its list
    of stories (stories/publishing/fragments.py)."""
    path = "/" if is_home else issue.get_absolute_url()
    title = f"#{issue.number}: {issue.headline}"
    meta = PageMeta(
        title=settings.SITE_NAME if is_home else title,
        description=plain_summary(issue.intro_html, issue.closing_tldr_html)
        or f"Issue #{issue.number} of {settings.SITE_NAME}.",
        path=path,
        published=issue.publish_at,
        modified=issue.updated_at,
    )
    if linked_data["image"]:
        meta.image, meta.image_alt = absolute(linked_data["image"]), linked_data["image_alt"]
    data = {
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": title,
        "description": meta.description,
        "url": absolute(issue.get_absolute_url()),
        "datePublished": issue.publish_at,
        "publisher": _publisher(),
        "mainEntity": {
            "@type": "ItemList",
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": n,
                    "url": absolute(story["path"]),
                    "name": story["name"],
                }
                for n, story in enumerate(linked_data["stories"], start=1)
            ],
        },
    }
    if is_home:
        data = {
            "@context": "https://schema.org",
            "@graph": [
                {
                    "@type": "WebSite",
                    "name": settings.SITE_NAME,
                    "url": absolute("/"),
                    "potentialAction": {
                        "@type": "SearchAction",
                        "target": absolute("/search/") + "?q={search_term_string}",
                        "query-input": "required name=search_term_string",
                    },
                },
                {k: v for k, v in data.items() if k != "@context"},
            ],
        }
    meta.structured_data = data
    return meta


def listing_meta(
    title: str, path: str, description: str, page: int = 1, position: str = "", label: str = ""
) -> PageMeta:
    """A listing's metadata. Each later page of a listing is its own page for
    search engines, with its own canonical address and title; only page 1
    drops the ?page= (so ?page=1 and the bare address are one page). A page
    positioned by a cursor (position, its query string) is told apart by
    label, e.g. "stories before 1 June 2025"."""
    if page > 1:
        title, path = f"{title}, page {page}", f"{path}?page={page}"
    elif position:
        title, path = f"{title}, {label}" if label else title, f"{path}?{position}"
    meta = PageMeta(title=title, description=description, path=path)
    meta.structured_data = {
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": title,
        "description": description,
        "url": meta.canonical,
        "publisher": _publisher(),
    }
    return meta
