"""Rebuild the search index from scratch, e.g. after a bulk import that
bypassed Story.save() (bulk_create, raw SQL, a restored dump)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from stories.models import SearchDocument
from stories.publishing.search_index import rebuild_index


class Command(BaseCommand):
    help = (
        "Index every story readers can see or will see at its issue's minute, "
        "and drop search rows for any other story."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            before = SearchDocument.objects.count()
            indexed = rebuild_index()
        self.stdout.write(f"Indexed {indexed} stories for search (the index held {before} before).")
