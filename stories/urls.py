from django.urls import path

from stories import views

app_name = "stories"

urlpatterns = [
    path("", views.home, name="home"),
    path("issues/<int:number>/", views.issue_detail, name="issue"),
    path("issues/<int:number>/<slug:slug>/", views.issue_detail, name="issue_with_slug"),
    path("stories/<slug:slug>/", views.story_detail, name="story"),
    path("topics/<slug:slug>/", views.topic_detail, name="topic"),
    path("sources/<slug:slug>/", views.source_detail, name="source"),
]
