"""Reader filters for search results and the issue archive (django-filter).

Both pages filter by topics (all of them must match), source, author, a date
range and a sort order, with the same URL parameters. Choices offer only
topics, sources and authors of published stories, so the filter form names
nothing a reader could not otherwise find, and a value outside them is
reported and ignored rather than applied (or crashing).

Each filter is an EXISTS subquery rather than a join, so results never repeat
and need no DISTINCT, and each choice list is read once per request: the same
list validates the input and renders the form.
"""

from html import escape

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe
from django_filters import (
    ChoiceFilter,
    DateFromToRangeFilter,
    FilterSet,
    MultipleChoiceFilter,
)
from django_filters.fields import DateRangeField

from stories.models import Citation, IssueItem, Story, TaggedTopic, Topic
from stories.models.content import first_public_date
from stories.publishing.cache import cache_timeout_until, content_generation, next_publication_time
from stories.timebounds import OUT_OF_RANGE, within

# Query parameters that position a page of results; a change of filters drops
# them, and a page's links set their own.
PAGING_PARAMETERS = ("page", "after", "before")
# Filters whose choices come from published content (see filter_choices).
FACETS = ("topic", "source", "author")
# The key of filter_choices() that maps topic slugs to ids (not a facet).
TOPIC_IDS = "topic_ids"
SELECTED = " selected"


def published_stories() -> QuerySet:
    return Story.objects.published().annotate(published_on=first_public_date())


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """Topics, sources and authors of published stories, cached like a page.

    Reading them takes three queries that grow with the archive, for lists
    that change only when published content does; so they are kept under the
    content generation (bumped by every change readers could see) and never
    past the next scheduled publication, which may add to them.
    """
    key = f"discovery:filter-choices:v2:{content_generation()}"
    choices = cache.get(key)
    if choices is None:
        # The horizon is read first, as for pages (stories/cache.py).
        upcoming = next_publication_time()
        choices = read_filter_choices()
        cache.set(key, choices, timeout=cache_timeout_until(upcoming))
    return choices


def read_filter_choices() -> dict[str, list[tuple[str, str]]]:
    """Topics, sources and authors of published stories: three queries."""
    published = Story.objects.published()
    topics = Topic.objects.filter(
        Exists(TaggedTopic.objects.filter(tag=OuterRef("pk"), content_object__in=published))
    ).order_by("name")
    sources = (
        Citation.objects.filter(story__in=published)
        .order_by("source__name")
        .values_list("source__slug", "source__name")
        .distinct()
    )
    User = get_user_model()
    bylines = Story.authors.through.objects.filter(user=OuterRef("pk"), story__in=published)
    authors = (
        User.objects.filter(Exists(bylines))
        .order_by("last_name", "first_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    )
    topic_rows = list(topics.values_list("slug", "name", "pk"))
    return {
        "topic": [(slug, name) for slug, name, _ in topic_rows],
        # Each topic's id, so a topic filter names its tag by value: the
        # planner then knows how many stories carry it (a slug joined to the
        # tags looks like an average topic, and a search on a topic most
        # stories carry was planned around that guess: 5 s instead of 0.1).
        TOPIC_IDS: {slug: pk for slug, _, pk in topic_rows},
        "source": list(sources),
        "author": [
            (str(pk), f"{first} {last}".strip() or username)
            for pk, first, last, username in authors
        ],
    }


class PublicationDateField(DateRangeField):
    """A date range whose ends are moments the newsroom holds (stories/timebounds.py).

    Each date becomes the start or end of that day in the newsroom's zone;
    outside the span no story can match it, and near the ends of the calendar
    (0001-01-01 east of UTC, 9999-12-31 west of it) that moment has no UTC
    equivalent, so comparing with it would fail in the database driver.
    """

    def compress(self, data_list):
        period = super().compress(data_list)
        for moment in (period.start, period.stop) if period else ():
            if moment is not None and not within(moment):
                raise ValidationError(OUT_OF_RANGE, code="out_of_range")
        return period


class PublicationDateFilter(DateFromToRangeFilter):
    field_class = PublicationDateField


class DiscoveryFilterSet(FilterSet):
    """The filters both pages share; subclasses say how each applies."""

    SORTS: list[tuple[str, str]] = []

    topic = MultipleChoiceFilter(label="Topics", method="filter_topics")
    source = ChoiceFilter(label="Source", method="filter_source", empty_label="Any source")
    author = ChoiceFilter(label="Author", method="filter_author", empty_label="Any author")
    date = PublicationDateFilter(label="Published between", method="filter_date")
    # Applied by the view, which owns ordering (relevance, keyset pagination).
    sort = ChoiceFilter(label="Sort by", method="keep", empty_label=None)

    def __init__(self, data=None, queryset=None, *, choices=None, **kwargs):
        super().__init__(data, queryset, **kwargs)
        choices = dict(choices if choices is not None else filter_choices())
        self.topic_ids = choices.pop(TOPIC_IDS, {})
        self.choices = {**choices, "sort": self.SORTS}
        for name, options in self.choices.items():
            # Handed to the form fields as a function: a form deep-copies its
            # fields, and with them hundreds of topic and source choices on
            # every request (2 ms of a search), but a function is shared.
            self.filters[name].extra["choices"] = _returning(options)

    def keep(self, queryset, name, value):
        return queryset

    @property
    def chosen_sort(self) -> str:
        return self.form.cleaned_data.get("sort") or self.SORTS[0][0]

    def options(self) -> dict[str, SafeString]:
        """The <option> markup of each facet and of the sort, escaped.

        Written here rather than by Django's widgets (one template per option)
        or a template loop (several nodes per option): with hundreds of topics
        and sources either cost more than the rest of the page.
        """
        options = {}
        for name in (*FACETS, "sort"):
            chosen = set(self.data.getlist(name))
            if name == "sort" and not chosen & {value for value, _ in self.SORTS}:
                chosen = {self.SORTS[0][0]}
            # The standard library's escape (quotes included, so values are
            # safe in attributes): Django's format_html per option costs
            # tens of milliseconds over hundreds of options.
            options[name] = mark_safe(
                "".join(
                    f'<option value="{escape(value)}"{SELECTED if value in chosen else ""}>'
                    f"{escape(label)}</option>"
                    for value, label in self.choices[name]
                )
            )
        return options

    def ignored(self) -> list[str]:
        """Sentences for the values that were not valid and so not applied."""
        return [
            f"The {self.filters[name].label.lower()} filter was ignored: {' '.join(errors)}"
            for name, errors in self.errors.items()
        ]

    def chips(self, query: QueryDict) -> list[dict]:
        """One removable chip per applied value: its label and the query of
        the page without it (query: the page's own, as its links carry it)."""
        data = self.form.cleaned_data
        labels = {name: dict(self.choices[name]) for name in FACETS}
        chips = []
        for slug in data.get("topic") or []:
            chips.append(
                {
                    "label": f"Topic: {labels['topic'][slug]}",
                    "query": _without(query, "topic", slug),
                }
            )
        for name in ("source", "author"):
            if data.get(name):
                chips.append(
                    {
                        "label": f"{self.filters[name].label}: {labels[name][data[name]]}",
                        "query": _without(query, name),
                    }
                )
        period = data.get("date")
        if period and period.start:
            chips.append(
                {"label": f"From {period.start:%Y-%m-%d}", "query": _without(query, "date_after")}
            )
        if period and period.stop:
            chips.append(
                {"label": f"Until {period.stop:%Y-%m-%d}", "query": _without(query, "date_before")}
            )
        return chips


def _returning(value):
    return lambda: value


def _without(query: QueryDict, name: str, value: str | None = None) -> QueryDict:
    """query without one parameter (or one of its values)."""
    rest = query.copy()
    given = rest.pop(name, [])
    kept = [item for item in given if item != value] if value is not None else []
    if kept:
        rest.setlist(name, kept)
    return rest


class StoryFilterSet(DiscoveryFilterSet):
    """Filters for search results; the queryset comes from published_stories()."""

    SORTS = [("relevance", "Relevance"), ("newest", "Newest first"), ("oldest", "Oldest first")]

    def filter_topics(self, queryset, name, slugs):
        for slug in slugs:
            tag = (
                {"tag_id": self.topic_ids[slug]} if slug in self.topic_ids else {"tag__slug": slug}
            )
            queryset = queryset.filter(
                Exists(TaggedTopic.objects.filter(content_object=OuterRef("pk"), **tag))
            )
        return queryset

    def filter_source(self, queryset, name, slug):
        return queryset.filter(
            Exists(Citation.objects.filter(story=OuterRef("pk"), source__slug=slug))
        )

    def filter_author(self, queryset, name, pk):
        bylines = Story.authors.through.objects.filter(story=OuterRef("pk"), user_id=pk)
        return queryset.filter(Exists(bylines))

    def filter_date(self, queryset, name, period):
        if period.start:
            queryset = queryset.filter(published_on__gte=period.start)
        if period.stop:
            queryset = queryset.filter(published_on__lte=period.stop)
        return queryset


class IssueFilterSet(DiscoveryFilterSet):
    """Filters for the archive: an issue matches through the published
    stories it holds."""

    SORTS = [("newest", "Newest first"), ("oldest", "Oldest first")]

    def _holding(self, **story_conditions):
        return Exists(
            IssueItem.objects.filter(
                issue=OuterRef("pk"), story__in=Story.objects.published(), **story_conditions
            )
        )

    def filter_topics(self, queryset, name, slugs):
        for slug in slugs:
            queryset = queryset.filter(self._holding(story__topics__slug=slug))
        return queryset

    def filter_source(self, queryset, name, slug):
        return queryset.filter(self._holding(story__citations__source__slug=slug))

    def filter_author(self, queryset, name, pk):
        return queryset.filter(self._holding(story__authors=pk))

    def filter_date(self, queryset, name, period):
        if period.start:
            queryset = queryset.filter(publish_at__gte=period.start)
        if period.stop:
            queryset = queryset.filter(publish_at__lte=period.stop)
        return queryset
