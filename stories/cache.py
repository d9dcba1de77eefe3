"""Server-side page cache bookkeeping.

Public pages are cached under keys that include a content generation number.
Any change readers could see (a publication, an edit to a public story, a
correction, a withdrawal) bumps the generation, so every cached page is
invalidated at once on every app server sharing the cache, listing pages
included. Entries also never outlive the next scheduled publication, so an
issue going live on its minute is never hidden behind a cached page.
"""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

GENERATION_KEY = "newsroom:content-generation"
NEXT_PUBLICATION_KEY = "newsroom:next-publication"


def content_generation() -> int:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        # Start from the clock so a restarted local cache never reuses a number.
        generation = int(timezone.now().timestamp() * 1000)
        cache.add(GENERATION_KEY, generation, timeout=None)
        generation = cache.get(GENERATION_KEY, generation)
    return generation


def content_changed() -> None:
    """Invalidate every cached public page and the schedule horizon."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        content_generation()
        cache.incr(GENERATION_KEY)
    cache.delete(NEXT_PUBLICATION_KEY)


def next_publication_time() -> datetime | None:
    """The earliest scheduled publication still in the future, cached until then."""
    from stories.models import Issue

    cached = cache.get(NEXT_PUBLICATION_KEY)
    now = timezone.now()
    if cached is not None and (cached == "none" or cached > now):
        return None if cached == "none" else cached
    upcoming = (
        Issue.objects.filter(status=Issue.Status.SCHEDULED, publish_at__gt=now)
        .order_by("publish_at")
        .values_list("publish_at", flat=True)
        .first()
    )
    cache.set(
        NEXT_PUBLICATION_KEY, upcoming or "none", timeout=settings.NEWSROOM_PAGE_CACHE_SECONDS
    )
    return upcoming


def page_cache_timeout() -> int:
    """Seconds a public page may stay cached: the configured maximum, cut short
    by the next scheduled publication."""
    timeout = settings.NEWSROOM_PAGE_CACHE_SECONDS
    upcoming = next_publication_time()
    if upcoming is not None:
        until = int((upcoming - timezone.now()).total_seconds())
        timeout = max(0, min(timeout, until))
    return timeout
