from django.urls import path, re_path

from stories.reader import converters, preview, views  # noqa: F401  (converters registers topicslug)

app_name = "stories"

urlpatterns = [
    path("", views.home, name="home"),
    path("newsletters/", views.newsletter_list, name="newsletters"),
    path("newsletters/<slug:newsletter>/", views.newsletter_detail, name="newsletter"),
    path("newsletters/<slug:newsletter>/issues/<int:number>/", views.issue_detail, name="issue"),
    path(
        "newsletters/<slug:newsletter>/issues/<int:number>/<slug:slug>/",
        views.issue_detail,
        name="issue_with_slug",
    ),
    # Issue addresses from before newsletters: every issue then was in what is
    # now the default newsletter, so these answer with a permanent redirect.
    path("issues/<int:number>/", views.legacy_issue, name="legacy_issue"),
    path("issues/<int:number>/<slug:slug>/", views.legacy_issue, name="legacy_issue_with_slug"),
    path("stories/<slug:slug>/", views.story_detail, name="story"),
    path("topics/", views.topic_list, name="topics"),
    path("topics/<topicslug:slug>/", views.topic_detail, name="topic"),
    path("sources/", views.source_list, name="sources"),
    path("sources/<slug:slug>/", views.source_detail, name="source"),
    path("authors/<str:username>/", views.author_detail, name="author"),
    path("contributors/<slug:slug>/", views.contributor_detail, name="contributor"),
    # Previews: staff from the admin, reviewers through a secret link.
    re_path(
        r"^preview/(?P<kind>story|issue)/(?P<pk>[0-9]+)/$", preview.staff_preview, name="preview"
    ),
    re_path(
        r"^preview/(?P<kind>story|issue)/(?P<pk>[0-9]+)/share/$",
        preview.share,
        name="share_preview",
    ),
    path("p/<uuid:token>/", preview.shared_preview, name="shared_preview"),
]
