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
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache, partial, wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, QueryDict
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag, urlencode

from stories.models import Issue

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


def schedule_changed(publish_at: datetime | None) -> None:
    """An issue's minute was set to publish_at (None: unscheduled).

    Every kept page expires by the horizon it was cached under and within
    NEWSROOM_PAGE_CACHE_SECONDS; the pages stay unless the new minute comes
    before both (or the horizon is unknown), and then all are cleared. The
    horizon itself is read again on the next render either way."""
    horizon = cache.get(NEXT_PUBLICATION_KEY)
    longest = timezone.now() + timedelta(seconds=settings.NEWSROOM_PAGE_CACHE_SECONDS)
    known = horizon not in (None, "none")
    if publish_at is not None and publish_at < longest and not (known and publish_at >= horizon):
        content_changed()
    else:
        cache.delete(NEXT_PUBLICATION_KEY)


def next_publication_time() -> datetime | None:
    """The earliest scheduled publication still in the future, cached until then."""
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


# Headers a view sets that belong to the page and so are kept with it.
KEPT_HEADERS = ("X-Robots-Tag", "Content-Language", "Link")


# How a page reads each query parameter it declares (public_page's `query`).
# Each takes the values a request gave and returns the ones the page will
# see, in one spelling: requests a page cannot tell apart (parameter order,
# repeats, blanks, padding, leading zeros) then share one cache entry, and
# the key holds nothing the page ignores.


def single(values: list[str]) -> list[str]:
    """A value read with QueryDict.get(): the last one given, trimmed; a
    blank one is no value at all, as in a submitted form's empty field."""
    value = values[-1].strip() if values else ""
    return [value] if value else []


def several(values: list[str]) -> list[str]:
    """Values read with getlist() that act as a set (all must match):
    their order and repeats change nothing."""
    return sorted({value.strip() for value in values} - {""})


def page_number(values: list[str]) -> list[str]:
    """A page number: page 1 is the page without one and leading zeros
    count for nothing. Anything but digits is handed on as given, for the
    page to refuse."""
    values = single(values)
    if values and values[0].isascii() and values[0].isdigit():
        number = values[0].lstrip("0") or "0"
        return [] if number == "1" else [number]
    return values


def declared_query(given: QueryDict, reads: dict) -> QueryDict:
    """The parameters a page reads (reads: its public_page ``query``), each in
    its one spelling, sorted by name, and nothing else of given.

    What the view sees, what the cache key holds, and all that the page's own
    links may carry: a cached page is handed to every reader, so a link that
    echoed anything else of the address one reader asked for would hand them
    all that reader's parameters."""
    query = QueryDict(mutable=True)
    for name in sorted(reads):
        values = reads[name](given.getlist(name))
        if values:
            query.setlist(name, values)
    return query


def _canonical_query(given: QueryDict, reads: dict) -> str:
    """declared_query URL-encoded: names and values are escaped, so no value
    can pass for a separate parameter (``?topic=a%26topic%3Db`` is one odd
    topic)."""
    return declared_query(given, reads).urlencode()


def browser_cache_seconds() -> int:
    """How long browsers and shared caches may reuse a page without asking.

    Nothing can invalidate a copy held by a browser or a proxy, so the default
    is zero: they revalidate every time, which costs one cheap 304 answered
    from the server-side cache, and a correction reaches every reader at once.
    """
    return getattr(settings, "NEWSROOM_BROWSER_CACHE_SECONDS", 0)


def page_key(request) -> str:
    """The cache key of the page a request asks for: its route and the values
    the route captured (so /issues/01/ is /issues/1/), and the query the page
    reads (request.GET once public_page has reduced it).

    The host takes no part: pages build absolute addresses from SITE_URL
    (feeds, sitemaps, SEO tags), never from the Host header, whose case and
    port a client may vary at will.
    """
    return _key(request.resolver_match, request.path, request.GET.urlencode())


def _page(match, path: str) -> str:
    """A page's part of its cache key: its route and the values it captured."""
    if match is None:
        return path
    captured = [*enumerate(match.args), *sorted(match.kwargs.items())]
    return f"{match.route}?{urlencode(captured)}"


def _key(match, path: str, canonical_query: str) -> str:
    return _page_key(_page(match, path), canonical_query)


def _page_key(page: str, canonical_query: str) -> str:
    address = f"{page}?{canonical_query}"
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"{PAGE_KEY_PREFIX}:{content_generation()}:{digest}"


def never_cache_privately(response: HttpResponse) -> HttpResponse:
    """Staff views, previews and anything personal: no cache may keep a copy."""
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


def _kept_for_everyone(response: HttpResponse) -> bool:
    """Whether response is a page every anonymous reader may be given: a
    complete success that sets no cookie, depends on no request header the
    key leaves out (a Vary of its own) and was not marked private or
    no-store by its view (a page answering input it refused, say)."""
    if response.status_code != 200 or response.cookies or response.streaming:
        return False
    if response.has_header("Vary"):
        return False
    directives = {
        directive.split("=", 1)[0].strip().lower()
        for directive in response.get("Cache-Control", "").split(",")
    }
    return not directives & {"private", "no-store"}


def public_page(view=None, *, query: dict[str, Callable[[list[str]], list[str]]] | None = None):
    """Serve an anonymous reader's page from the server-side cache, with an
    ETag so a returning reader gets a 304.

    ``query`` declares the query parameters the page reads, each with how it
    reads them (single, several, page_number or the view's own): the view
    sees only those, in their one spelling, and they alone take part in the
    cache key. Anything else in the address (utm_* tags, junk) is dropped
    before the view runs, so it can neither change the page nor make another
    copy of it. Used bare (``@public_page``), the page reads no parameters.

    Entries are keyed by the content generation, so any change readers could
    see makes every cached page (listings included) unreachable at once.
    Logged-in staff always get a fresh, uncacheable page; only successful
    pages are cached, never errors, redirects or pages their view marked
    private.
    """
    if view is None:
        return partial(public_page, query=query)
    reads = dict(query or {})

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        request.GET = QueryDict(_canonical_query(request.GET, reads))
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
            if not _kept_for_everyone(response):
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

        return _answer(request, entry)

    # The early answer (CachedPageMiddleware) finds the page's reads here.
    wrapped.public_page_reads = reads
    return wrapped


def _answer(request, entry: dict) -> HttpResponse:
    """The response for a kept page: its content, headers and ETag, a 304 if
    the reader holds it already."""
    response = HttpResponse(entry["content"], content_type=entry["content_type"])
    for header, value in entry["headers"].items():
        response[header] = value
    response["ETag"] = entry["etag"]
    remaining = max(0, round(entry["expires"] - time.time()))
    # What patch_cache_control(public=True, max_age=...) writes on a response
    # that has no Cache-Control yet, without parsing one: every kept page is
    # answered through here, so this is the cache hit's own cost.
    response["Cache-Control"] = f"public, max-age={min(browser_cache_seconds(), remaining)}"
    if CONDITIONAL_HEADERS.isdisjoint(request.META):
        return response
    return get_conditional_response(request, etag=entry["etag"], response=response)


CONDITIONAL_HEADERS = frozenset(
    ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
)


def _route(path_info: str) -> tuple[dict, str, str] | None:
    """For a path public_page serves: the query it reads, its page part of the
    cache key, and its canonical query when the address has none; None for any
    other path. Resolving is the costliest step of a cache hit and its answer
    for a path never changes while the URLconf does not, so it is kept per
    URLconf and path (the most recent 4,096 paths of up to 300 characters: no
    page's address is longer, and junk ones need not crowd the others out)."""
    if len(path_info) > 300:
        return _resolved_route(settings.ROOT_URLCONF, path_info)
    return _cached_route(settings.ROOT_URLCONF, path_info)


def _resolved_route(urlconf: str, path_info: str) -> tuple[dict, str, str] | None:
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return None
    reads = getattr(match.func, "public_page_reads", None)
    if reads is None:
        return None
    return reads, _page(match, path_info), _canonical_query(QueryDict(""), reads)


_cached_route = lru_cache(maxsize=4096)(_resolved_route)


class CachedPageMiddleware:
    """Answer an anonymous reader's GET from the page cache before the rest of
    the middleware runs: no session is loaded, no CSRF or login work done.

    Only what public_page would have answered from the cache anyway: a GET or
    HEAD with no session cookie (staff always have one and always get a fresh
    page), for a route whose view is a public_page, whose kept copy exists.
    Anything else, a miss included, goes down the whole stack as before. The
    host is checked as the full stack would, and a query holding a NUL is left
    to the middleware that refuses it. What the middleware below would add to
    a cached page's response (Vary: Cookie, X-Frame-Options, Content-Length)
    is added here, so both ways give the same headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.answer(request) or self.get_response(request)

    def answer(self, request) -> HttpResponse | None:
        if not settings.NEWSROOM_PAGE_CACHE or request.method not in ("GET", "HEAD"):
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None
        if "%00" in request.META.get("QUERY_STRING", ""):
            return None
        request.get_host()  # DisallowedHost (a 400) as the full stack would raise
        route = _route(request.path_info)
        if route is None:
            return None
        reads, page, bare_query = route
        query = (
            _canonical_query(request.GET, reads) if request.META.get("QUERY_STRING") else bare_query
        )
        entry = cache.get(_page_key(page, query))
        if entry is None:
            return None
        response = _answer(request, entry)
        # A kept page carries no Vary of its own (KEPT_HEADERS): the session
        # middleware below would add this one.
        response["Vary"] = "Cookie"
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        if not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response
