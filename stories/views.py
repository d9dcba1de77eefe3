"""Public pages. Every query for reader-visible content starts from
``Issue.objects.published()`` or ``Story.objects.published()``."""

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from stories.models import Citation, Issue, IssueItem, Source, Story, Topic


def _items_prefetch(stories):
    """An issue's items in order, limited to stories readers may see."""
    return Prefetch(
        "items",
        queryset=IssueItem.objects.filter(story__in=stories)
        .select_related("story")
        .prefetch_related(
            "story__authors",
            "story__topics",
            Prefetch("story__citations", Citation.objects.select_related("source")),
        )
        .order_by("position", "pk"),
        to_attr="visible_items",
    )


def _published_issues():
    return Issue.objects.published().prefetch_related(_items_prefetch(Story.objects.published()))


def home(request):
    issue = _published_issues().order_by("-publish_at", "-number").first()
    recent = Issue.objects.published().order_by("-publish_at", "-number")[1:6]
    return render(request, "stories/home.html", {"issue": issue, "recent": recent})


def issue_detail(request, number, slug=None):
    issue = get_object_or_404(_published_issues(), number=number)
    if slug is not None:
        return redirect(issue, permanent=True)
    return render(request, "stories/issue_detail.html", {"issue": issue})


def story_detail(request, slug):
    story = get_object_or_404(
        Story.objects.published().prefetch_related(
            "authors",
            "topics",
            "corrections",
            Prefetch("citations", Citation.objects.select_related("source")),
        ),
        slug=slug,
    )
    issues = Issue.objects.published().filter(items__story=story).order_by("-publish_at")
    return render(request, "stories/story_detail.html", {"story": story, "issues": issues})


def topic_detail(request, slug):
    topic = get_object_or_404(Topic, slug=slug)
    stories = Story.objects.published().filter(topics=topic).order_by("-published_at")
    if not stories.exists():
        raise Http404("No such topic.")
    return render(request, "stories/story_list.html", {"title": topic.name, "stories": stories})


def source_detail(request, slug):
    source = get_object_or_404(Source, slug=slug)
    stories = Story.objects.published().filter(citations__source=source).distinct()
    return render(request, "stories/story_list.html", {"title": source.name, "stories": stories})
