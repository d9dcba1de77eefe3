"""Where each listed story stands in the listings of its topics, sources,
staff authors and contributors.

A listing (stories/reader/listing.py) shows the stories of one topic, source
or author newest first by their listing date (Story.listed_at). Read through
the link tables, a page of a topic carried by a few thousand stories costs
a sort of all of them: the link rows do not know the date, and the story
rows do not know the topic. A ListingEntry holds both, so that a page of any
listing is one range of an index on (what it is listed under, listed_at,
story) and its twenty stories fetched by id, whatever the size of the
listing.

Entries are derived rows, rebuilt for a story from its links and its listing
date by ListingEntry.objects.rebuild() whenever either changes, and never
edited otherwise. They order and bound a listing; whether readers may see a
story is still decided by Story.objects.published() alone.
"""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.models import Q

from stories.timebounds import in_range, validate_time

# Each kind of listing (the entry's field for what it is listed under): the
# link model it is read from, with that model's story and entity fields.
# Named rather than imported: content.py's refresh_listed_at calls rebuild().
LISTED_UNDER = {
    "topic": ("TaggedTopic", "content_object", "tag"),
    "source": ("Citation", "story", "source"),
    "author": ("Story_authors", "story", "user"),  # Story.authors' own table
    "contributor": ("GuestByline", "story", "contributor"),
}


class ListingEntryQuerySet(models.QuerySet):
    def rebuild(self, stories: models.QuerySet) -> None:
        """Make the entries of stories (a Story queryset) match their links
        and listing dates: the one writer of entries. Set-based, so a restore
        or the benchmark generator rebuilds every story in a few statements."""
        try:
            ids_sql, ids_params = stories.values("pk").query.sql_with_params()
        except EmptyResultSet:  # stories is none() or pk__in=[]: nothing to rebuild
            return
        self.filter(story__in=stories.values("pk")).delete()
        # Where the delete went (a plain manager's self.db is the read alias:
        # the replica, while a reader's request is served).
        connection = connections[self._db or router.db_for_write(self.model)]
        quote = connection.ops.quote_name
        story_table = quote(stories.model._meta.db_table)
        with connection.cursor() as cursor:
            for kind, (link_name, story_field, entity_field) in LISTED_UNDER.items():
                link = apps.get_model("stories", link_name)
                story_column = quote(link._meta.get_field(story_field).column)
                entity_column = quote(link._meta.get_field(entity_field).column)
                # DISTINCT: a story may cite one source more than once.
                cursor.execute(
                    f"INSERT INTO {quote(self.model._meta.db_table)} "
                    f"(story_id, listed_at, {quote(kind + '_id')}) "
                    f"SELECT DISTINCT s.id, s.listed_at, l.{entity_column} "
                    f"FROM {quote(link._meta.db_table)} l "
                    f"JOIN {story_table} s ON s.id = l.{story_column} "
                    f"WHERE s.listed_at IS NOT NULL AND s.id IN ({ids_sql})",
                    ids_params,
                )


def _listing_index(kind: str) -> models.UniqueConstraint:
    """The order a listing is read in, for one kind of listing: newest first,
    ties by story id, as stories/reader/listing.py pages it (read backwards
    for that). Unique, so a story is never listed twice in one listing."""
    return models.UniqueConstraint(
        fields=[kind, "listed_at", "story"],
        name=f"listing_{kind}",
        condition=Q(**{f"{kind}__isnull": False}),
    )


def _listed_under_one() -> models.CheckConstraint:
    """An entry lists its story under exactly one topic, source, author or
    contributor: one of the four set, the other three empty."""
    one_of = Q()
    for kind in LISTED_UNDER:
        one_of |= Q(
            **{f"{kind}__isnull": False},
            **{f"{other}__isnull": True for other in LISTED_UNDER if other != kind},
        )
    return models.CheckConstraint(condition=one_of, name="listing_entry_under_one")


class ListingEntry(models.Model):
    """A listed story under one of its topics, sources, staff authors or
    contributors (exactly one of the four), with the story's listing date."""

    story = models.ForeignKey(
        "stories.Story", on_delete=models.CASCADE, related_name="listing_entries"
    )
    listed_at = models.DateTimeField(validators=[validate_time])
    # No index of their own: each leads its kind's listing index.
    topic = models.ForeignKey(
        "stories.Topic", on_delete=models.CASCADE, null=True, related_name="+", db_index=False
    )
    source = models.ForeignKey(
        "stories.Source", on_delete=models.CASCADE, null=True, related_name="+", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        related_name="+",
        db_index=False,
    )
    contributor = models.ForeignKey(
        "stories.Contributor", on_delete=models.CASCADE, null=True, related_name="+", db_index=False
    )

    objects = ListingEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "listing entries"
        constraints = [
            in_range("listed_at"),
            _listed_under_one(),
            *(_listing_index(kind) for kind in LISTED_UNDER),
        ]

    def __str__(self) -> str:
        return f"{self.story_id} listed {self.listed_at:%Y-%m-%d %H:%M}"
