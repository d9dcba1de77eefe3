"""/healthz and /readyz for load balancers and orchestrators.

They are answered by a middleware placed first in MIDDLEWARE rather than by
URL routes: a probe from a load balancer usually sends the server's own
address as Host (not in ALLOWED_HOSTS), arrives over plain HTTP (which
SECURE_SSL_REDIRECT would redirect) and carries no cookies or CSRF token.
Answering before any other middleware keeps host checks, HTTPS redirects,
sessions, CSRF and login throttling out of the way, and keeps the probes
cheap. Neither response is ever cached.
"""

from django.db import Error as DatabaseError
from django.db import connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers


def healthz():
    """The process is up and answering; no database involved."""
    return JsonResponse({"status": "ok"})


def readyz():
    """The database answers a query; 503 otherwise, so the balancer routes elsewhere.

    It also says whether any issue holds a publication time outside the span
    the newsroom holds (stories/timebounds.py): every public page reads the
    next one. The database's constraints keep such rows out and pages read
    them safely, so this is a finding for whoever watches the probe, not a
    reason to take the server (and, alike, every other one) out of service."""
    from stories.models import Issue
    from stories.timebounds import OUT_OF_RANGE, out_of_range

    try:
        # One query, answered from the publication time's index.
        outside = Issue.objects.filter(out_of_range("publish_at")).count()
    except DatabaseError:
        # Drop the broken connection now; the next request opens a fresh one.
        connection.close_if_unusable_or_obsolete()
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    times = "ok"
    if outside:
        times = (
            f"{outside} issue(s) hold a publication time outside the span the newsroom "
            f"holds ({OUT_OF_RANGE}); unschedule or reschedule them."
        )
    return JsonResponse({"status": "ok", "database": "ok", "times": times})


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponseNotAllowed(["GET", "HEAD"])
        else:
            response = probe()
        add_never_cache_headers(response)
        response["X-Content-Type-Options"] = "nosniff"
        return response
