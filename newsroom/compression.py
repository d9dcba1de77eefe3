"""Compressed responses for the public site, and only where that is safe.

BREACH recovers a secret from a compressed HTTPS response when the same
response also reflects text an attacker chose (a search query, say): each
guess that matches the secret shortens the response. So this compresses only
responses that hold no secret:

- text (HTML, CSS, feeds, JSON): images and other binary files are already
  compressed, and an uploaded image must never be served encoded;
- responses that print no CSRF token and are not private. A public reader
  page is the same for every anonymous reader (it is cached and shared as
  such) and carries no session data and no CSRF token: the newsletter signup
  form posts without one (newsletters/forms.py). Pages for staff, previews
  and anything personal (a subscriber's preferences) are marked private or
  no-store (never_cache, never_cache_privately), and a page that asked for a
  CSRF token (every form that posts with one: the admin, preferences,
  confirmation, unsubscribe) is sent uncompressed whatever its headers.
  Django masks the CSRF token anew on every response and GZipMiddleware pads
  its output randomly (Django 4.2+), but not compressing those pages at all
  needs neither argument.
"""

from django.middleware.gzip import GZipMiddleware

TEXT_TYPES = (
    "text/",
    "application/json",
    "application/feed+json",
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "application/javascript",
)


def may_compress(request, response) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    directives = {
        directive.split("=", 1)[0].strip().lower()
        for directive in response.get("Cache-Control", "").split(",")
    }
    return (
        content_type.startswith(TEXT_TYPES)
        and not directives & {"private", "no-store"}
        # Set by django.middleware.csrf.get_token whenever a token was printed.
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    )


class PublicGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware, for the responses may_compress allows."""

    def process_response(self, request, response):
        if not may_compress(request, response):
            return response
        return super().process_response(request, response)
