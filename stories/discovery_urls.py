"""Search, the issue archive, feeds, sitemap and robots.txt."""

from django.urls import path
from django.views.generic import TemplateView

from stories import discovery_views, feeds, sitemaps

app_name = "discovery"

urlpatterns = [
    path("search/", discovery_views.search, name="search"),
    path("issues/", discovery_views.archive, name="archive"),
    path("feeds/issues.rss", feeds.IssuesRssFeed(), name="issues_rss"),
    path("feeds/issues.atom", feeds.IssuesAtomFeed(), name="issues_atom"),
    path("feeds/issues.json", feeds.IssuesJsonFeed(), name="issues_json"),
    path("feeds/topics/<slug:slug>.rss", feeds.TopicRssFeed(), name="topic_rss"),
    path("feeds/topics/<slug:slug>.atom", feeds.TopicAtomFeed(), name="topic_atom"),
    path("sitemap.xml", sitemaps.index, name="sitemap"),
    path("sitemap-<slug:section>.xml", sitemaps.section, name="sitemap_section"),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain"),
        name="robots",
    ),
]
