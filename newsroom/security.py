"""Response headers and responses that protect readers and staff.

Django's SecurityMiddleware already sends HSTS, X-Content-Type-Options,
Referrer-Policy and Cross-Origin-Opener-Policy, and XFrameOptionsMiddleware
denies framing; Django 5.2 has no Content-Security-Policy of its own, so this
module adds one. The admin lockout page lives here too, since it is the other
half of keeping the login form safe.
"""

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse


class ContentSecurityPolicyMiddleware:
    """Send NEWSROOM_CSP on every response, NEWSROOM_ADMIN_CSP under the admin.

    A view that sets its own Content-Security-Policy keeps it. With
    NEWSROOM_CSP_REPORT_ONLY the browser reports violations without blocking,
    which is how a changed policy can be tried on a live site first.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = (
            "Content-Security-Policy-Report-Only"
            if settings.NEWSROOM_CSP_REPORT_ONLY
            else "Content-Security-Policy"
        )
        self._admin_prefix = None

    def __call__(self, request):
        response = self.get_response(request)
        if self.header not in response:
            policy = (
                settings.NEWSROOM_ADMIN_CSP
                if request.path.startswith(self.admin_prefix)
                else settings.NEWSROOM_CSP
            )
            if policy:
                response[self.header] = policy
        return response

    @property
    def admin_prefix(self) -> str:
        # Resolved on first use: the URLconf is not loaded when middleware is built.
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        return self._admin_prefix


NUL_REFUSAL = (
    "This request holds a NUL character (%00), which no address or form of this "
    "site accepts. Remove it and try again."
)


def _holds_nul(data) -> bool:
    return any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in data.lists()
    )


class RefuseNulMiddleware:
    """Answer 400 with a sentence when a query string or a posted form holds a
    NUL character, before any view sees it.

    Nothing the newsroom stores or looks up can hold one (PostgreSQL refuses
    it in text and in query parameters alike), so no admin filter, search,
    autocomplete, comment or login has to guard against it on its own.
    Uploaded files' contents are not form values and are not looked at.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _holds_nul(request.GET) or (request.method == "POST" and _holds_nul(request.POST)):
            return HttpResponseBadRequest(NUL_REFUSAL, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def client_ip_address(request) -> str:
    """The address login throttling counts failures against.

    Behind NEWSROOM_PROXY_COUNT trusted proxies, the entry the outermost of
    them appended to X-Forwarded-For: entries further left come from the
    client and could be forged to dodge the lockout. Without proxies, the
    socket's peer.
    """
    count = settings.NEWSROOM_PROXY_COUNT
    if count:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        forwarded = [address.strip() for address in forwarded if address.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def client_username(request, credentials=None) -> str | None:
    """The username login throttling counts failures against: the one typed,
    cut to the length django-axes stores. A longer one would fail to be
    stored, and so would never count towards a lockout."""
    from axes.models import AccessAttempt

    # Where django-axes itself looks: the credentials tried, else the form.
    data = credentials or getattr(request, "data", request.POST)
    username = data.get(settings.AXES_USERNAME_FORM_FIELD)
    if username is None:
        return None
    return str(username)[: AccessAttempt._meta.get_field("username").max_length]


def lockout_response(request, original_response=None, credentials=None):
    """The page django-axes shows once a login is locked out, in the admin's look."""
    cool_off = settings.AXES_COOLOFF_TIME
    minutes = round(cool_off * 60) if isinstance(cool_off, int | float) else None
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
    }
    return TemplateResponse(
        request, "admin/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE
    ).render()
