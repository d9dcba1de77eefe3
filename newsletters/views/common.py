from django.shortcuts import render

from stories.publishing.cache import never_cache_privately


def private_page(request, template: str, context: dict, status: int = 200):
    """A page for one reader (a signed link, a form's answer): never cached,
    never indexed, and its address (which may hold a token) never sent to
    another site. "same-origin" rather than "no-referrer": with no referrer
    at all, browsers send "Origin: null" with the page's own button, and
    Django's CSRF check refuses that POST."""
    response = render(request, template, {"noindex": True, **context}, status=status)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return never_cache_privately(response)
