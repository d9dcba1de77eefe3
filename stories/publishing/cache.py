"""Server-side page cache bookkeeping.

Public pages are cached under keys that include a content generation number.
Any change readers could see (a publication, an edit to a public story, a
correction, a withdrawal) bumps the generation, so every cached page is
invalidated at once on every app server sharing the cache, listing pages
included. Entries also never outlive the next scheduled publication, so an
issue going live on its minute is never hidden behind a cached page.
"""

import hashlib
import time
from datetime import datetime
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag

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
        Issue.objects.upcoming(now)
        .order_by("publish_at")
        .values_list("publish_at", flat=True)
        .first()
    )
    cache.set(
        NEXT_PUBLICATION_KEY, upcoming or "none", timeout=settings.NEWSROOM_PAGE_CACHE_SECONDS
    )
    return upcoming


def cache_timeout_until(upcoming: datetime | None) -> int:
    """Seconds a public page may stay cached: the configured maximum, cut short
    by the scheduled publication ``upcoming`` (none when it has come)."""
    timeout = settings.NEWSROOM_PAGE_CACHE_SECONDS
    if upcoming is not None:
        until = int((upcoming - timezone.now()).total_seconds())
        timeout = max(0, min(timeout, until))
    return timeout


def page_cache_timeout() -> int:
    """Seconds a page rendered now may stay cached."""
    return cache_timeout_until(next_publication_time())


# -- public page responses ----------------------------------------------------

PAGE_KEY_PREFIX = "newsroom:page"
# Query parameters that never change what a page shows: tracking links must
# not fill the cache with copies of the same page.
TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "msclkid"})


# Headers a view sets that belong to the page and so are kept with it.
KEPT_HEADERS = ("X-Robots-Tag", "Content-Language", "Link")


def _shown_parameters(request) -> str:
    return "&".join(
        f"{name}={value}"
        for name, values in sorted(request.GET.lists())
        if not name.startswith("utm_") and name not in TRACKING_PARAMETERS
        for value in values
    )


def browser_cache_seconds() -> int:
    """How long browsers and shared caches may reuse a page without asking.

    Nothing can invalidate a copy held by a browser or a proxy, so the default
    is zero: they revalidate every time, which costs one cheap 304 answered
    from the server-side cache, and a correction reaches every reader at once.
    """
    return getattr(settings, "NEWSROOM_BROWSER_CACHE_SECONDS", 0)


def page_key(request) -> str:
    address = f"{request.get_host()}{request.path}?{_shown_parameters(request)}"
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"{PAGE_KEY_PREFIX}:{content_generation()}:{digest}"


def never_cache_privately(response: HttpResponse) -> HttpResponse:
    """Staff views, previews and anything personal: no cache may keep a copy."""
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


def public_page(view):
    """Serve an anonymous reader's page from the server-side cache, with an
    ETag so a returning reader gets a 304.

    Entries are keyed by the content generation, so any change readers could
    see makes every cached page (listings included) unreachable at once.
    Logged-in staff always get a fresh, uncacheable page; only successful
    pages are cached, never errors or redirects.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        if request.user.is_authenticated:
            return never_cache_privately(view(request, *args, **kwargs))

        key = page_key(request)
        entry = cache.get(key) if settings.NEWSROOM_PAGE_CACHE else None
        if entry is None:
            # The horizon is read before the page is rendered: a page whose
            # queries ran just before an issue's minute must not be kept past
            # it, which a horizon read after rendering (already moved on to the
            # next issue) would allow. Only needed when a copy will be kept.
            keep = settings.NEWSROOM_PAGE_CACHE or browser_cache_seconds() > 0
            upcoming = next_publication_time() if keep else None
            response = view(request, *args, **kwargs)
            if response.status_code != 200 or response.cookies or response.streaming:
                return response
            if hasattr(response, "render"):
                response.render()
            timeout = cache_timeout_until(upcoming) if keep else 0
            entry = {
                "content": response.content,
                "content_type": response["Content-Type"],
                "headers": {h: response[h] for h in KEPT_HEADERS if h in response},
                "etag": quote_etag(hashlib.sha256(response.content).hexdigest()[:32]),
                "expires": time.time() + timeout,
            }
            if timeout > 0 and settings.NEWSROOM_PAGE_CACHE:
                cache.set(key, entry, timeout)

        response = HttpResponse(entry["content"], content_type=entry["content_type"])
        for header, value in entry["headers"].items():
            response[header] = value
        response["ETag"] = entry["etag"]
        remaining = max(0, round(entry["expires"] - time.time()))
        patch_cache_control(response, public=True, max_age=min(browser_cache_seconds(), remaining))
        return get_conditional_response(request, etag=entry["etag"], response=response)

    return wrapped
