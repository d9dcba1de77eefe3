"""Public pages. Every query for reader-visible content starts from
``Issue.objects.published()``, ``Story.objects.published()`` or, for a story
with the issues that carried it, ``IssueItem.objects.public()`` (the same rule
read from the items' side).

Each page does a small fixed number of queries whatever the number of
stories (tests/test_reader_pages.py pins them), prints HTML rendered once and
kept (stories/publishing/fragments.py), and anonymous readers are served from the page
cache (stories/cache.py).
"""

from functools import wraps

from django.contrib.auth import get_user_model
from django.core.paginator import InvalidPage, Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from stories.models import (
    Contributor,
    Issue,
    IssueItem,
    Newsletter,
    Source,
    Story,
    Topic,
)
from stories.people import display_name
from stories.publishing.cache import never_cache_privately, page_number, public_page, single
from stories.publishing.fragments import ensure_issue_rendered, ensure_rendered
from stories.reader import seo
from stories.reader.listing import listing_page

RECENT_ISSUES = 5
# The query parameters a story listing reads (stories/cache.py drops the
# rest): its position, and the page numbers of old links, which lead to its
# first page.
LISTING_QUERY = {"before": single, "after": single, "page": page_number}


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


# Markdown sources: pages show the HTML rendered from them at save.
MARKDOWN_SOURCES = ("body", "tldr", "why_it_matters", "key_points")


def neighbours(issue) -> dict:
    """The public issues of the same newsletter just before and after issue,
    for its previous/next links: two index lookups, which Django builds and
    PostgreSQL plans faster than one query with two subqueries."""
    published = (
        Issue.objects.published()
        .filter(newsletter_id=issue.newsletter_id)
        .values_list("number", "headline")
    )
    return {
        "previous": published.filter(number__lt=issue.number).order_by("-number").first(),
        "next": published.filter(number__gt=issue.number).order_by("number").first(),
    }


def issue_page_context(issue, *, is_home=False) -> dict:
    """What an issue page shows beside the issue row and its list of stories
    (issue.rendered, stories/publishing/fragments.py): its previous and next issues."""
    return {
        "issue": issue,
        "neighbours": neighbours(issue),
        "meta": seo.issue_meta(issue, issue.rendered.linked_data, is_home=is_home),
    }


def story_page_context(story, public_issues: list[Issue] | None = None) -> dict:
    """What a story page shows beside the story row and its cached fragments
    (bylines, attribution, topics and corrections, stories/publishing/fragments.py): the
    public issues that carried it, read here unless the caller has them."""
    ensure_rendered([story])
    if public_issues is None:
        public_issues = list(
            Issue.objects.published()
            .filter(items__story=story)
            .select_related("newsletter")
            .only(*ISSUE_LINK_FIELDS, "newsletter__slug", "newsletter__name")
            .order_by("publish_at", "number")
        )
    public_date = story.first_public_date(public_issues)
    return {
        "story": story,
        "public_issues": public_issues,
        "public_date": public_date,
        "meta": seo.story_meta(story, story.rendered.linked_data, public_date),
    }


# What a story page shows of each issue that carried it, and what it does not.
ISSUE_LINK_FIELDS = ("number", "headline", "slug", "publish_at")
ISSUE_TEXTS = ("intro", "intro_html", "closing_tldr", "closing_tldr_html")


def page_numbers_lead_to_the_first_page(view):
    """Listings were once paged by number; an old link to a page number leads
    to the listing's newest stories. Decided from the address alone, before
    anything is looked up, so the redirect reveals nothing."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if "page" in request.GET:
            return redirect(request.path, permanent=True)
        return view(request, *args, **kwargs)

    return wrapped


def _story_listing(request, under: dict, *, title: str, path: str, description: str, context):
    """A topic's, source's, author's or contributor's page of stories
    (stories/reader/listing.py); under names which, e.g. {"topic": topic}.

    Queries: the page of stories, besides the caller's for the topic,
    source or author. A listing with nothing public is not there.
    """
    stories = Story.objects.published().only("headline", "slug", "dek", "listed_at")
    page = listing_page(stories, request.GET, under)
    if not page:
        raise not_found()
    meta = seo.listing_meta(title, path, description, position=page.position, label=page.label)
    response = render(
        request,
        "stories/story_list.html",
        {**context, "title": title, "page": page, "meta": meta, "notices": page.notices},
    )
    # A page answering an address it refused is that request's alone.
    return never_cache_privately(response) if page.notices else response


# -- pages --------------------------------------------------------------------


@public_page
def home(request):
    # Queries: the latest issue with its list of stories, its neighbours, and
    # the recent issues list.
    latest = Issue.objects.published().select_related("newsletter")
    issue = latest.order_by("-publish_at", "-number").first()
    if issue is None:
        return render(request, "stories/home.html", {"issue": None, "recent": []})
    recent = (
        Issue.objects.published()
        .select_related("newsletter")
        .exclude(pk=issue.pk)
        .order_by("-publish_at", "-number")
    )
    ensure_issue_rendered(issue)
    context = issue_page_context(issue, is_home=True)
    context["recent"] = recent[:RECENT_ISSUES]
    return render(request, "stories/home.html", context)


@public_page
def issue_detail(request, newsletter, number, slug=None):
    if slug is not None:
        # Any slug goes to the one canonical address; whether the issue is
        # public is decided there, so the redirect reveals nothing.
        return redirect("stories:issue", newsletter=newsletter, number=number, permanent=True)
    issue = get_or_not_found(
        Issue.objects.published().select_related("newsletter"),
        newsletter__slug=newsletter,
        number=number,
    )
    ensure_issue_rendered(issue)
    return render(request, "stories/issue_detail.html", issue_page_context(issue))


def legacy_issue(request, number, slug=None):
    """/issues/<number>/ from before newsletters: the default newsletter's
    issue of that number, whatever its state (the target decides, so the
    redirect reveals nothing)."""
    newsletter = Newsletter.objects.default()
    if newsletter is None:
        raise not_found()
    return redirect("stories:issue", newsletter=newsletter.slug, number=number, permanent=True)


NEWSLETTER_PAGE_SIZE = 20


@public_page
def newsletter_list(request):
    newsletters = list(Newsletter.objects.order_by("name"))
    meta = seo.listing_meta(
        "Newsletters", reverse("stories:newsletters"), "Every newsletter we publish."
    )
    return render(
        request, "stories/newsletter_list.html", {"newsletters": newsletters, "meta": meta}
    )


@public_page(query={"page": page_number})
def newsletter_detail(request, newsletter):
    """A newsletter's page: what it is, its public issues newest first, and
    its signup form (shown even before its first issue)."""
    newsletter = get_or_not_found(Newsletter.objects.all(), slug=newsletter)
    issues = (
        Issue.objects.published()
        .filter(newsletter=newsletter)
        .only("number", "headline", "slug", "publish_at", "newsletter_id")
        .order_by("-publish_at", "-number")
    )
    try:
        page = Paginator(issues, NEWSLETTER_PAGE_SIZE).page(request.GET.get("page", 1))
    except InvalidPage:
        raise not_found() from None
    for issue in page:
        issue.newsletter = newsletter  # their links name it; no query each
    meta = seo.listing_meta(
        newsletter.name,
        newsletter.get_absolute_url(),
        newsletter.description or f"Issues of {newsletter.name}.",
        page.number,
    )
    context = {"newsletter": newsletter, "page": page, "meta": meta}
    return render(request, "stories/newsletter_detail.html", context)


@public_page
def story_detail(request, slug):
    # One query: the story's public appearances (IssueItem.objects.public(),
    # the published() rule read from the items' side), each with the story
    # and the issue; the story's fragments come from the cache. None means
    # readers may not see it.
    appearances = list(
        IssueItem.objects.public()
        .filter(story__slug=slug)
        .select_related("story", "issue", "issue__newsletter")
        .defer(
            *(f"story__{field}" for field in MARKDOWN_SOURCES),
            *(f"issue__{field}" for field in ISSUE_TEXTS),
        )
        .order_by("issue__publish_at", "issue__number")
    )
    if not appearances:
        raise not_found()
    story = appearances[0].story
    public_issues = [appearance.issue for appearance in appearances]
    return render(request, "stories/story_detail.html", story_page_context(story, public_issues))


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


@public_page(query=LISTING_QUERY)
@page_numbers_lead_to_the_first_page
def topic_detail(request, slug):
    topic = get_or_not_found(Topic.objects.all(), slug=slug)
    return _story_listing(
        request,
        {"topic": topic},
        title=topic.name,
        path=topic.get_absolute_url(),
        description=topic.description or f"Stories about {topic.name}.",
        context={"kind": "Topic", "description": topic.description},
    )


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


@public_page(query=LISTING_QUERY)
@page_numbers_lead_to_the_first_page
def source_detail(request, slug):
    source = get_or_not_found(Source.objects.all(), slug=slug)
    return _story_listing(
        request,
        {"source": source},
        title=source.name,
        path=source.get_absolute_url(),
        description=source.description or f"Stories based on {source.name}.",
        context={"kind": "Source", "description": source.description, "home_page": source.url},
    )


@public_page(query=LISTING_QUERY)
@page_numbers_lead_to_the_first_page
def author_detail(request, username):
    if "\x00" in username:
        # No username holds a NUL, and PostgreSQL refuses one in a query.
        raise not_found()
    author = get_or_not_found(get_user_model().objects.all(), username=username)
    name = display_name(author)
    return _story_listing(
        request,
        {"author": author},
        title=name,
        path=reverse("stories:author", args=[username]),
        description=f"Stories by {name}.",
        context={"kind": "Author"},
    )


@public_page(query=LISTING_QUERY)
@page_numbers_lead_to_the_first_page
def contributor_detail(request, slug):
    """A contributor without a staff account: their bio, link and stories."""
    contributor = get_or_not_found(Contributor.objects.all(), slug=slug)
    return _story_listing(
        request,
        {"contributor": contributor},
        title=contributor.name,
        path=contributor.get_absolute_url(),
        description=contributor.bio or f"Stories by {contributor.name}.",
        context={
            "kind": "Contributor",
            "description": contributor.bio,
            "home_page": contributor.url,
        },
    )
