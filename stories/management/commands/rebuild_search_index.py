"""Rebuild the search index from scratch, e.g. after a bulk import that
bypassed Story.save() (bulk_create, raw SQL, a restored dump)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from stories.models import SearchDocument, Story
from stories.models.search import index_stories

BATCH = 500


class Command(BaseCommand):
    help = "Index every approved and published story for search, dropping stale rows."

    def handle(self, *args, **options):
        indexable = Story.objects.filter(status__in=[Story.Status.APPROVED, Story.Status.PUBLISHED])
        with transaction.atomic():
            stale, _ = SearchDocument.objects.exclude(story__in=indexable).delete()
        ids = list(indexable.order_by("pk").values_list("pk", flat=True))
        done = 0
        for start in range(0, len(ids), BATCH):
            batch = Story.objects.filter(pk__in=ids[start : start + BATCH])
            done += index_stories(list(batch))
        self.stdout.write(f"Indexed {done} stories for search; removed {stale} stale entries.")
