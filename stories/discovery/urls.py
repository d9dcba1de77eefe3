"""Search, the issue archive, feeds, sitemap and robots.txt."""

from django.urls import path
from django.views.generic import TemplateView

from stories.discovery import feeds, sitemaps
from stories.discovery import views as discovery_views
from stories.publishing.cache import page_number, public_page
from stories.reader import converters  # noqa: F401  (registers topicslug)

app_name = "discovery"

# Every page here is public and served through the page cache (stories/cache.py).
urlpatterns = [
    path(
        "search/",
        public_page(discovery_views.search, query=discovery_views.SEARCH_QUERY),
        name="search",
    ),
    path(
        "issues/",
        public_page(discovery_views.archive, query=discovery_views.ARCHIVE_QUERY),
        name="archive",
    ),
    path("feeds/issues.rss", public_page(feeds.IssuesRssFeed()), name="issues_rss"),
    path("feeds/issues.atom", public_page(feeds.IssuesAtomFeed()), name="issues_atom"),
    path("feeds/issues.json", public_page(feeds.IssuesJsonFeed()), name="issues_json"),
    path("feeds/topics/<topicslug:slug>.rss", public_page(feeds.TopicRssFeed()), name="topic_rss"),
    path(
        "feeds/topics/<topicslug:slug>.atom", public_page(feeds.TopicAtomFeed()), name="topic_atom"
    ),
    path("sitemap.xml", public_page(sitemaps.index), name="sitemap"),
    path(
        "sitemap-<slug:section>.xml",
        public_page(sitemaps.section, query={"p": page_number}),
        name="sitemap_section",
    ),
    path(
        "robots.txt",
        public_page(TemplateView.as_view(template_name="robots.txt", content_type="text/plain")),
        name="robots",
    ),
]
