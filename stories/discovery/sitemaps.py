"""The sitemap: published issues, stories, topics and sources, with lastmod.

/sitemap.xml is an index of one sitemap per section, so no file nears the
protocol's 50,000-URL limit as the archive grows; a section past
SECTION_LIMIT URLs continues on ?p=2. Everything comes through the published
gate, and URLs are built from settings.SITE_URL rather than the request's
Host header. The latest lastmod of a section is one aggregate query, not a
walk over every item as Django's default would do, and the index asks each
section for it and its URL count together.
"""

from datetime import UTC, datetime
from math import ceil
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import SitemapIndexItem, x_robots_tag
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db.models import Count, Max
from django.db.models.functions import Greatest
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property

from stories.models import Citation, Issue, Story, TaggedTopic
from stories.reader.paths import INT_PLACEHOLDER, SLUG_PLACEHOLDER, path_for_each
from stories.reader.views import not_found

SECTION_LIMIT = 10_000


class SiteSitemap(Sitemap):
    """Items are (key, lastmod) rows, key being what the page's URL takes."""

    limit = SECTION_LIMIT
    url_name = ""

    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc

    @cached_property
    def _path(self):
        return path_for_each(self.url_name, SLUG_PLACEHOLDER)

    def location(self, item):
        return self._path(item[0])

    def lastmod(self, item):
        return item[1]

    def summary(self) -> tuple[datetime | None, int]:
        """The section's latest lastmod and its number of URLs, in one
        aggregate query: all the index needs, where Django's default walks
        the items for the first and counts them in a second query."""
        raise NotImplementedError

    def page_count(self, count: int) -> int:
        # As Django's paginator counts them: an empty section still has page 1.
        return max(1, ceil(count / self.limit))


class IssueSitemap(SiteSitemap):
    """Items are (newsletter slug, number, lastmod): an issue's address names both."""

    url_name = "stories:issue"

    @cached_property
    def _path(self):
        return path_for_each(self.url_name, SLUG_PLACEHOLDER, INT_PLACEHOLDER)

    def location(self, item):
        return self._path(item[0], item[1])

    def lastmod(self, item):
        return item[2]

    def items(self):
        # An issue changes for readers when it goes live or is edited later.
        return (
            Issue.objects.published()
            .annotate(lastmod=Greatest("updated_at", "publish_at"))
            .values_list("newsletter__slug", "number", "lastmod")
            .order_by("-publish_at", "-number")
        )

    def summary(self):
        found = Issue.objects.published().aggregate(
            updated=Max("updated_at"), live=Max("publish_at"), count=Count("pk")
        )
        return max(filter(None, (found["updated"], found["live"])), default=None), found["count"]


class StorySitemap(SiteSitemap):
    url_name = "stories:story"

    def items(self):
        return Story.objects.published().values_list("slug", "updated_at").order_by("pk")

    def summary(self):
        found = Story.objects.published().aggregate(latest=Max("updated_at"), count=Count("pk"))
        return found["latest"], found["count"]


class _GroupedSitemap(SiteSitemap):
    """Pages listing published stories (topics, sources): one grouped query
    over the published stories' links, not a subquery per topic or source.
    Items are (slug, lastmod) rows; lastmod is their newest story change."""

    link_model = None  # TaggedTopic or Citation
    slug_path = story_path = ""

    def _links(self):
        return self.link_model.objects.filter(
            **{f"{self.story_path}__in": Story.objects.published()}
        )

    def items(self):
        return (
            self._links()
            .values_list(self.slug_path)
            .annotate(lastmod=Max(f"{self.story_path}__updated_at"))
            .order_by(self.slug_path)
        )

    def summary(self):
        # Slugs are unique, so distinct targets count the rows items() groups into.
        target = self.slug_path.removesuffix("__slug")
        found = self._links().aggregate(
            latest=Max(f"{self.story_path}__updated_at"), count=Count(target, distinct=True)
        )
        return found["latest"], found["count"]


class TopicSitemap(_GroupedSitemap):
    link_model, slug_path, story_path = TaggedTopic, "tag__slug", "content_object"
    url_name = "stories:topic"


class SourceSitemap(_GroupedSitemap):
    link_model, slug_path, story_path = Citation, "source__slug", "story"
    url_name = "stories:source"


SITEMAPS = {
    "issues": IssueSitemap,
    "stories": StorySitemap,
    "topics": TopicSitemap,
    "sources": SourceSitemap,
}


@x_robots_tag
def index(request):
    """The sitemap index: each section's URL (and further pages) with its lastmod."""
    entries = []
    for section, sitemap_class in SITEMAPS.items():
        sitemap = sitemap_class()
        url = settings.SITE_URL + reverse("discovery:sitemap_section", args=[section])
        lastmod, count = sitemap.summary()
        entries.append(SitemapIndexItem(url, lastmod))
        for page in range(2, sitemap.page_count(count) + 1):
            entries.append(SitemapIndexItem(f"{url}?p={page}", lastmod))
    return TemplateResponse(
        request, "sitemap_index.xml", {"sitemaps": entries}, content_type="application/xml"
    )


@x_robots_tag
def section(request, section):
    """One section's sitemap. Written out directly rather than through
    Django's sitemap template, which took over a second for 10,000 URLs."""
    if section not in SITEMAPS:
        raise not_found()
    try:
        urls = SITEMAPS[section]().get_urls(page=request.GET.get("p", 1))
    except (EmptyPage, PageNotAnInteger) as error:
        raise not_found() from error
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for url in urls:
        lastmod = url["lastmod"].astimezone(UTC).isoformat(timespec="seconds")
        lines.append(f"<url><loc>{escape(url['location'])}</loc><lastmod>{lastmod}</lastmod></url>")
    lines.append("</urlset>\n")
    return HttpResponse("\n".join(lines), content_type="application/xml")
