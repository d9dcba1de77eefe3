"""Feeds for feed readers: RSS 2.0 and Atom for all issues and per topic, and
JSON Feed 1.1 for issues, built on Django's syndication framework.

Every item carries its full content, absolute URLs built from
settings.SITE_URL (never from the request's Host header), an ID that never
changes (an issue's numbered permalink; a tag: URI with a story's primary
key, which survives a slug change) and the lead image as an enclosure.
Items come from Issue.objects.published() and Story.objects.published(), so
a scheduled issue enters the feeds at its minute and not before. Each feed
is a fixed number of queries: the items, then one prefetch per relation.
"""

import json
import mimetypes
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Exists, OuterRef, Prefetch
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed, SyndicationFeed
from django.utils.html import strip_tags
from django.utils.text import Truncator

from stories.discovery.filters import published_stories
from stories.models import Citation, Issue, IssueItem, Story, TaggedTopic, Topic
from stories.models.content import citations_of
from stories.people import display_name
from stories.reader import seo
from stories.reader.seo import absolute
from stories.reader.views import get_or_not_found

# Items per feed: issues hold many full stories, so fewer of them.
FEED_LENGTH = 20
ISSUE_FEED_LENGTH = 10
# Site-relative links and images in rendered HTML (href="/...", src="/...").
_RELATIVE = re.compile(r'(\s(?:href|src)=")/(?!/)')


def absolute_html(html: str) -> str:
    return _RELATIVE.sub(lambda m: m.group(1) + settings.SITE_URL + "/", html)


def story_guid(story: Story) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"tag:{host},2025:story:{story.pk}"


def lead_image(story: Story) -> dict | None:
    """URL, MIME type and size in bytes of a story's lead image."""
    if not story.lead_image:
        return None
    try:
        size = story.lead_image.size
    except OSError:  # missing file: readers still get the URL
        size = 0
    mime = mimetypes.guess_type(story.lead_image.name)[0] or "application/octet-stream"
    return {"url": absolute(story.lead_image.url), "mime_type": mime, "size": size}


def _enclosures(image: dict | None) -> list[Enclosure]:
    if image is None:
        return []
    return [Enclosure(image["url"], str(image["size"]), image["mime_type"])]


def _summary(html: str) -> str:
    return Truncator(strip_tags(html).strip()).words(60)


def _bylines(story: Story) -> str | None:
    names = [display_name(a) for a in story.authors.all()]
    return ", ".join(names) or None


def _story_prefetches(prefix: str = "") -> list:
    return [
        f"{prefix}authors",
        f"{prefix}topics",
        Prefetch(f"{prefix}citations", Citation.objects.select_related("source")),
    ]


# Characters XML 1.0 cannot hold; a headline or topic may carry one pasted
# from elsewhere (the admin refuses only NUL).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(value):
    if isinstance(value, str):
        return _NOT_XML.sub("", value)
    if isinstance(value, list | tuple):
        return type(value)(_xml_safe(item) for item in value)
    return value


class XmlSafeText:
    """Feed generator mixin: drops characters XML cannot hold from the feed's
    and every item's text, rather than failing the whole feed for every
    reader (Django's writer refuses them with an exception)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*map(_xml_safe, args), **{k: _xml_safe(v) for k, v in kwargs.items()})

    def add_item(self, *args, **kwargs):
        super().add_item(*map(_xml_safe, args), **{k: _xml_safe(v) for k, v in kwargs.items()})


class FullContentRss(XmlSafeText, Rss201rev2Feed):
    """RSS 2.0 with the full HTML in content:encoded, the summary in description."""

    def rss_attributes(self):
        return {
            **super().rss_attributes(),
            "xmlns:content": "http://purl.org/rss/1.0/modules/content/",
        }

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("content:encoded", item["content_html"])


class FullContentAtom(XmlSafeText, Atom1Feed):
    """Atom with the full HTML in <content>, the summary in <summary>."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        handler.addQuickElement("content", item["content_html"], {"type": "html"})


class JsonFeed(SyndicationFeed):
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""

    content_type = "application/feed+json; charset=utf-8"

    def write(self, outfile, encoding):
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": self.feed["title"],
            "home_page_url": self.feed["link"],
            "feed_url": self.feed["feed_url"],
            "description": self.feed["description"],
            "language": self.feed["language"],
            "icon": seo.static_url(seo.SITE_LOGO[0]),
            "favicon": seo.static_url(seo.FAVICON),
            "authors": [{"name": settings.SITE_NAME, "url": settings.SITE_URL + "/"}],
            "items": [self._item(item) for item in self.items],
        }
        outfile.write(json.dumps(feed, ensure_ascii=False))

    @staticmethod
    def _item(item) -> dict:
        entry = {
            "id": item["unique_id"],
            "url": item["link"],
            "title": item["title"],
            "content_html": item["content_html"],
            "summary": item["description"],
            "date_published": item["pubdate"].isoformat(),
            "date_modified": (item["updateddate"] or item["pubdate"]).isoformat(),
            "tags": item["categories"] or [],
        }
        if item["author_name"]:
            entry["authors"] = [{"name": item["author_name"]}]
        if item["image"]:
            entry["image"] = item["image"]["url"]
            entry["attachments"] = [
                {
                    "url": item["image"]["url"],
                    "mime_type": item["image"]["mime_type"],
                    "size_in_bytes": item["image"]["size"],
                }
            ]
        return entry


class IssuesRssFeed(Feed):
    """Every published issue, newest first, each with its stories in full."""

    feed_type = FullContentRss
    feed_url_name = "discovery:issues_rss"
    description = "Every issue of the newsletter, in full."

    def title(self):
        return f"{settings.SITE_NAME}: issues"

    def author_name(self):
        return settings.SITE_NAME

    def link(self):
        return absolute(reverse("discovery:archive"))

    def feed_url(self):
        return absolute(reverse(self.feed_url_name))

    def items(self):
        visible_items = (
            IssueItem.objects.filter(story__in=Story.objects.published())
            .select_related("story")
            .prefetch_related(*_story_prefetches("story__"))
            .order_by("position", "pk")
        )
        return (
            Issue.objects.published()
            .select_related("newsletter")
            .order_by("-publish_at", "-number")
            .prefetch_related(Prefetch("items", visible_items, to_attr="visible_items"))[
                :ISSUE_FEED_LENGTH
            ]
        )

    def item_title(self, issue):
        # Several newsletters share the feed: each entry says whose issue it is.
        return f"{issue.newsletter.name} #{issue.number}: {issue.headline}"

    def item_link(self, issue):
        return absolute(issue.get_absolute_url())

    def item_guid(self, issue):
        return absolute(issue.get_absolute_url())

    def item_guid_is_permalink(self, issue):
        return True

    def item_description(self, issue):
        return _summary(issue.intro_html) or issue.headline

    def item_pubdate(self, issue):
        return issue.publish_at

    def item_updateddate(self, issue):
        return max(issue.publish_at, issue.updated_at)

    def item_categories(self, issue):
        names = {t.name for item in issue.visible_items for t in item.story.topics.all()}
        return sorted(names)

    def item_enclosures(self, issue):
        return _enclosures(self._image(issue))

    def item_extra_kwargs(self, issue):
        stories = [item.story for item in issue.visible_items]
        layout = issue.layout_for(len(stories))
        content = render_to_string(
            "stories/includes/feed_issue.html",
            {
                "issue": issue,
                "layout": layout,
                "essay_citations": citations_of(stories) if layout == Issue.Format.ESSAY else (),
            },
        )
        return {"content_html": absolute_html(content), "image": self._image(issue)}

    @staticmethod
    def _image(issue):
        for item in issue.visible_items:
            if item.story.lead_image:
                return lead_image(item.story)
        return None


class IssuesAtomFeed(IssuesRssFeed):
    feed_type = FullContentAtom
    feed_url_name = "discovery:issues_atom"
    subtitle = IssuesRssFeed.description


class IssuesJsonFeed(IssuesRssFeed):
    feed_type = JsonFeed
    feed_url_name = "discovery:issues_json"


class TopicRssFeed(Feed):
    """The latest published stories on one topic, in full."""

    feed_type = FullContentRss
    feed_url_name = "discovery:topic_rss"

    def get_object(self, request, slug):
        # A topic only tagged on unpublished stories does not exist for readers.
        published = Story.objects.published()
        tagged = TaggedTopic.objects.filter(tag=OuterRef("pk"), content_object__in=published)
        return get_or_not_found(Topic.objects.filter(Exists(tagged)), slug=slug)

    def title(self, topic):
        return f"{settings.SITE_NAME}: {topic.name}"

    def author_name(self, topic):
        return settings.SITE_NAME

    def description(self, topic):
        return topic.description or f"Stories on {topic.name}."

    def link(self, topic):
        return absolute(topic.get_absolute_url())

    def feed_url(self, topic):
        return absolute(reverse(self.feed_url_name, args=[topic.slug]))

    def items(self, topic):
        return (
            published_stories()
            .filter(listing_entries__topic=topic)
            .prefetch_related(*_story_prefetches())
            # The topic page's order, read from the topic's listing entries
            # (stories/models/listings.py): the newest twenty whatever the
            # size of the topic or the archive.
            .order_by("-listing_entries__listed_at", "-listing_entries__story_id")[:FEED_LENGTH]
        )

    def item_title(self, story):
        return story.headline

    def item_link(self, story):
        return absolute(story.get_absolute_url())

    def item_guid(self, story):
        return story_guid(story)

    def item_guid_is_permalink(self, story):
        return False

    def item_description(self, story):
        return story.dek or _summary(story.body_html)

    def item_pubdate(self, story):
        return story.published_on

    def item_updateddate(self, story):
        return max(story.published_on, story.updated_at)

    def item_author_name(self, story):
        return _bylines(story)

    def item_categories(self, story):
        return [t.name for t in story.topics.all()]

    def item_enclosures(self, story):
        return _enclosures(lead_image(story))

    def item_extra_kwargs(self, story):
        content = render_to_string("stories/includes/feed_story.html", {"story": story})
        return {"content_html": absolute_html(content), "image": lead_image(story)}


class TopicAtomFeed(TopicRssFeed):
    feed_type = FullContentAtom
    feed_url_name = "discovery:topic_atom"

    def subtitle(self, topic):
        return self.description(topic)
