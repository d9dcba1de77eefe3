"""The sitemap: published issues, stories, topics and sources, with lastmod.

/sitemap.xml is an index of one sitemap per section, so no file nears the
protocol's 50,000-URL limit as the archive grows; a section past
SECTION_LIMIT URLs continues on ?p=2. Everything comes through the published
gate, and URLs are built from settings.SITE_URL rather than the request's
Host header. The latest lastmod of a section is one aggregate query, not a
walk over every item as Django's default would do.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import SitemapIndexItem, x_robots_tag
from django.db.models import Max, OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse

from stories.models import Issue, Source, Story, Topic

SECTION_LIMIT = 10_000


class SiteSitemap(Sitemap):
    limit = SECTION_LIMIT

    def get_protocol(self, protocol=None):
        return urlsplit(settings.SITE_URL).scheme or "https"

    def get_domain(self, site=None):
        return urlsplit(settings.SITE_URL).netloc

    def lastmod(self, item):
        return item.lastmod

    def get_latest_lastmod(self):
        return self.items().aggregate(latest=Max("lastmod"))["latest"]


class IssueSitemap(SiteSitemap):
    def items(self):
        # An issue changes for readers when it goes live or is edited later.
        return (
            Issue.objects.published()
            .only("number", "publish_at", "updated_at")
            .order_by("-publish_at", "-number")
        )

    def lastmod(self, item):
        return max(item.updated_at, item.publish_at)

    def get_latest_lastmod(self):
        latest = Issue.objects.published().aggregate(
            updated=Max("updated_at"), live=Max("publish_at")
        )
        return max(filter(None, latest.values()), default=None)


class StorySitemap(SiteSitemap):
    def items(self):
        return Story.objects.published().only("slug", "updated_at").order_by("pk")

    def lastmod(self, item):
        return item.updated_at

    def get_latest_lastmod(self):
        return Story.objects.published().aggregate(latest=Max("updated_at"))["latest"]


def _latest_story_change(**story_filter):
    return Subquery(
        Story.objects.published()
        .filter(**story_filter)
        .order_by("-updated_at")
        .values("updated_at")[:1]
    )


class TopicSitemap(SiteSitemap):
    def items(self):
        # lastmod is NULL exactly for topics with no published story: left out.
        return (
            Topic.objects.annotate(lastmod=_latest_story_change(topics=OuterRef("pk")))
            .filter(lastmod__isnull=False)
            .only("slug")
            .order_by("pk")
        )


class SourceSitemap(SiteSitemap):
    def items(self):
        return (
            Source.objects.annotate(lastmod=_latest_story_change(citations__source=OuterRef("pk")))
            .filter(lastmod__isnull=False)
            .only("slug")
            .order_by("pk")
        )


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
        lastmod = sitemap.get_latest_lastmod()
        entries.append(SitemapIndexItem(url, lastmod))
        for page in range(2, sitemap.paginator.num_pages + 1):
            entries.append(SitemapIndexItem(f"{url}?p={page}", lastmod))
    return TemplateResponse(
        request, "sitemap_index.xml", {"sitemaps": entries}, content_type="application/xml"
    )
