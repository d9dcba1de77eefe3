"""Public pages. Every query for reader-visible content starts from
``Issue.objects.published()`` or ``Story.objects.published()``.

Each page does a small fixed number of queries whatever the number of
stories (tests/test_reader_pages.py pins them), and anonymous readers are
served from the page cache (stories/cache.py).
"""

from django.contrib.auth import get_user_model
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from stories import seo
from stories.cache import public_page
from stories.models import Citation, Issue, IssueItem, Source, Story, Topic

PAGE_SIZE = 20
RECENT_ISSUES = 5


# -- the one "not found" ------------------------------------------------------


def not_found() -> Http404:
    """The public site's only 404. Its message is the same whether what was
    asked for never existed or exists but is not public (a draft, a topic
    only drafts carry, a writer with nothing published): a DEBUG error page
    prints it, and nothing on that page may tell the two apart."""
    return Http404("Nothing public at this address.")


def get_or_not_found(queryset, **lookup):
    """The one row of queryset matching lookup, or the public 404."""
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise not_found() from None


# -- querysets shared with the preview pages ----------------------------------


def _bylines(lookup="authors"):
    """Authors with only what a byline needs (no password hashes in templates)."""
    return Prefetch(lookup, get_user_model().objects.only("username", "first_name", "last_name"))


def first_public_date():
    """When readers could first see a story: its earliest public issue."""
    return Subquery(
        Issue.objects.published()
        .filter(items__story=OuterRef("pk"))
        .order_by("publish_at")
        .values("publish_at")[:1]
    )


# Markdown sources: pages show the HTML rendered from them at save.
MARKDOWN_SOURCES = ("body", "tldr", "why_it_matters", "key_points")


def issue_queryset(issues, stories):
    """issues with their items in order, limited to stories: one query plus
    three prefetches (items with their stories, bylines, citations)."""
    items = (
        IssueItem.objects.filter(story__in=stories)
        .select_related("story")
        .defer(*(f"story__{field}" for field in MARKDOWN_SOURCES))
        .prefetch_related(
            _bylines("story__authors"),
            Prefetch("story__citations", Citation.objects.select_related("source")),
        )
        .order_by("position", "pk")
    )
    return issues.prefetch_related(Prefetch("items", queryset=items, to_attr="visible_items"))


def neighbours(issue) -> dict:
    """The public issues just before and after issue, for its previous/next
    links, in one small query (cheaper to build and plan than four correlated
    subqueries on the issue's own query)."""
    published = Issue.objects.published()
    before = published.filter(number__lt=issue.number).order_by("-number").values("number")[:1]
    after = published.filter(number__gt=issue.number).order_by("number").values("number")[:1]
    rows = published.filter(Q(number=Subquery(before)) | Q(number=Subquery(after)))
    found = {"previous": None, "next": None}
    for number, headline in rows.values_list("number", "headline"):
        found["previous" if number < issue.number else "next"] = (number, headline)
    return found


def issue_page_context(issue, *, is_home=False) -> dict:
    stories = [item.story for item in issue.visible_items]
    return {
        "issue": issue,
        "neighbours": neighbours(issue),
        "meta": seo.issue_meta(issue, stories, is_home=is_home),
    }


def story_page_context(story) -> dict:
    """What a story page shows beside the story row: authors, topics,
    citations with their sources, corrections and the public issues that
    carried it, one small query each. For a single story, direct queries cost
    less to build than prefetching (most of this page's time was the ORM's)."""
    authors = list(
        get_user_model().objects.filter(stories=story).only("username", "first_name", "last_name")
    )
    citations = list(story.citations.select_related("source"))
    public_issues = list(
        Issue.objects.published()
        .filter(items__story=story)
        .only("number", "headline", "slug", "publish_at")
        .order_by("publish_at", "number")
    )
    # When readers could first see it: its earliest public issue.
    public_date = public_issues[0].publish_at if public_issues else None
    return {
        "story": story,
        "authors": authors,
        "topics": list(Topic.objects.filter(tagged_stories__content_object=story)),
        "citations": citations,
        "corrections": list(story.corrections.order_by("-created_at", "-pk")),
        "public_issues": public_issues,
        "public_date": public_date,
        "meta": seo.story_meta(story, authors, citations, public_date),
    }


def _paginate(request, queryset):
    """One page of a listing; an empty listing or a page past the end is a 404."""
    paginator = Paginator(queryset, PAGE_SIZE)
    try:
        page = paginator.page(request.GET.get("page", 1))
    except InvalidPage:
        raise not_found() from None
    if not paginator.count:
        # A topic, source or author with nothing published is not there.
        raise not_found()
    return page


def _story_listing(queryset):
    return (
        queryset.only("headline", "slug", "dek")
        .annotate(public_date=first_public_date())
        .order_by("-public_date", "-pk")
    )


# -- pages --------------------------------------------------------------------


@public_page
def home(request):
    # Queries: the latest issue with its neighbours, its items and stories,
    # their authors, their citations, and the recent issues list.
    issue = (
        issue_queryset(Issue.objects.published(), Story.objects.published())
        .order_by("-publish_at", "-number")
        .first()
    )
    if issue is None:
        return render(request, "stories/home.html", {"issue": None, "recent": []})
    recent = Issue.objects.published().exclude(pk=issue.pk).order_by("-publish_at", "-number")
    context = issue_page_context(issue, is_home=True)
    context["recent"] = recent[:RECENT_ISSUES]
    return render(request, "stories/home.html", context)


@public_page
def issue_detail(request, number, slug=None):
    if slug is not None:
        # Any slug goes to the one canonical address; whether the issue is
        # public is decided there, so the redirect reveals nothing.
        return redirect("stories:issue", number=number, permanent=True)
    issue = get_or_not_found(
        issue_queryset(Issue.objects.published(), Story.objects.published()), number=number
    )
    return render(request, "stories/issue_detail.html", issue_page_context(issue))


@public_page
def story_detail(request, slug):
    story = get_or_not_found(Story.objects.published().defer(*MARKDOWN_SOURCES), slug=slug)
    return render(request, "stories/story_detail.html", story_page_context(story))


@public_page
def topic_list(request):
    published = Story.objects.published().values("pk")
    topics = (
        Topic.objects.annotate(
            story_count=Count(
                "tagged_stories", filter=Q(tagged_stories__content_object__in=published)
            )
        )
        .filter(story_count__gt=0)
        .order_by("name")
    )
    meta = seo.listing_meta(
        "Topics", reverse("stories:topics"), "Every subject we cover, with its stories."
    )
    return render(request, "stories/topic_list.html", {"topics": topics, "meta": meta})


@public_page
def topic_detail(request, slug):
    topic = get_or_not_found(Topic.objects.all(), slug=slug)
    page = _paginate(request, _story_listing(Story.objects.published().filter(topics=topic)))
    meta = seo.listing_meta(
        topic.name,
        topic.get_absolute_url(),
        topic.description or f"Stories about {topic.name}.",
        page.number,
    )
    context = {"title": topic.name, "kind": "Topic", "description": topic.description}
    return render(request, "stories/story_list.html", {**context, "page": page, "meta": meta})


@public_page
def source_list(request):
    published = Story.objects.published().values("pk")
    sources = (
        Source.objects.annotate(
            story_count=Count(
                "citations__story",
                filter=Q(citations__story__in=published),
                distinct=True,
            )
        )
        .filter(story_count__gt=0)
        .order_by("name")
    )
    meta = seo.listing_meta(
        "Sources", reverse("stories:sources"), "The outlets and data our stories are based on."
    )
    return render(request, "stories/source_list.html", {"sources": sources, "meta": meta})


@public_page
def source_detail(request, slug):
    source = get_or_not_found(Source.objects.all(), slug=slug)
    stories = Story.objects.published().filter(
        pk__in=Citation.objects.filter(source=source).values("story")
    )
    page = _paginate(request, _story_listing(stories))
    meta = seo.listing_meta(
        source.name,
        source.get_absolute_url(),
        source.description or f"Stories based on {source.name}.",
        page.number,
    )
    context = {
        "title": source.name,
        "kind": "Source",
        "description": source.description,
        "home_page": source.url,
    }
    return render(request, "stories/story_list.html", {**context, "page": page, "meta": meta})


@public_page
def author_detail(request, username):
    if "\x00" in username:
        # No username holds a NUL, and PostgreSQL refuses one in a query.
        raise not_found()
    author = get_or_not_found(get_user_model().objects.all(), username=username)
    page = _paginate(request, _story_listing(Story.objects.published().filter(authors=author)))
    name = author.get_full_name() or author.get_username()
    meta = seo.listing_meta(
        name, reverse("stories:author", args=[username]), f"Stories by {name}.", page.number
    )
    context = {"title": name, "kind": "Author"}
    return render(request, "stories/story_list.html", {**context, "page": page, "meta": meta})
