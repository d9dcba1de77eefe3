"""Seeing a story or an issue as readers will, before they can.

Two ways in: staff with view permission open ``/preview/...`` from the admin;
a reviewer without an account opens a secret link ``/p/<token>/`` that an
editor created. Either way the page is marked as a preview, kept out of
search engines and out of every cache, and a secret link leads to the public
page once the content is published (Ghost's ``/p/<uuid>`` is the model).

A secret link never shows withdrawn content (``share_refusal``): one is not
made for it, and one made before answers the same 404 as a made-up token.
Withdrawing also revokes the links made before (stories/editorial/workflow.py), so
they stay dead if the content is later reworked and shared again.
"""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from stories import clock
from stories.models import Issue, IssueItem, PreviewLink, Story
from stories.publishing.cache import never_cache_privately
from stories.publishing.fragments import issue_stories, render_issue
from stories.reader.seo import absolute
from stories.reader.views import (
    get_or_not_found,
    issue_page_context,
    not_found,
    story_page_context,
)

SHARE_LINK_DAYS = (1, 3, 7, 14, 30)
DEFAULT_SHARE_LINK_DAYS = 7
KINDS = {"story": Story, "issue": Issue}


def share_url(link: PreviewLink) -> str:
    return absolute(reverse("stories:shared_preview", args=[link.token]))


LENGTH_REFUSAL = (
    "Choose how long the link lasts: "
    f"{', '.join(map(str, SHARE_LINK_DAYS[:-1]))} or {SHARE_LINK_DAYS[-1]} days."
)


class ShareRefused(Exception):
    """A share link that may not be made, with a sentence a person can act on."""


def share_refusal(target) -> str | None:
    """Why no share link may show target now, or None if one may.

    Withdrawn is off the site for everyone, those a link reaches too."""
    if target.status == target.Status.WITHDRAWN:
        return (
            f"This {target._meta.verbose_name} was withdrawn, and a share link never shows "
            "withdrawn content."
        )
    return None


def create_share_link(user, target, days: int = DEFAULT_SHARE_LINK_DAYS) -> PreviewLink:
    """The one way a share link is made: for a fixed choice of days, to
    something that may be shared (the admin only lists and revokes them)."""
    if days not in SHARE_LINK_DAYS:
        raise ShareRefused(LENGTH_REFUSAL)
    refusal = share_refusal(target)
    if refusal:
        raise ShareRefused(refusal)
    kind = "story" if isinstance(target, Story) else "issue"
    return PreviewLink.objects.create(
        created_by=user, expires_at=timezone.now() + timedelta(days=days), **{kind: target}
    )


def _preview_response(request, target, *, shared: PreviewLink | None = None):
    """Render target with the public templates, marked as a preview."""
    banner = {
        "shared": shared,
        # Told as staff are told every time: in the newsroom's zone, named.
        "until": clock.format_time(shared.expires_at) if shared else "",
        "admin_url": _admin_url(target) if shared is None else "",
    }
    if isinstance(target, Story):
        context = story_page_context(target)
        template = "stories/story_detail.html"
    else:
        # Stories a reader would see once it is out: everything but withdrawn ones.
        shown = IssueItem.objects.filter(issue=target).exclude(story__status=Story.Status.WITHDRAWN)
        # Rendered for this page only: the public one is kept for readers.
        target.rendered = render_issue(target, issue_stories(shown))
        context = issue_page_context(target)
        template = "stories/issue_detail.html"
    context.update(preview=banner, noindex=True)
    response = render(request, template, context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The secret is in the address: never hand it to the sites the page links to.
    response["Referrer-Policy"] = "no-referrer"
    return never_cache_privately(response)


def _admin_url(target) -> str:
    return reverse(f"admin:stories_{target._meta.model_name}_change", args=[target.pk])


def is_public(target) -> bool:
    """Whether readers can open target's public page now (the published() gate)."""
    manager = Story.objects if isinstance(target, Story) else Issue.objects
    return manager.published().filter(pk=target.pk).exists()


def _staff_target(request, kind: str, pk: int):
    """The object a logged-in user may preview, or the reason they may not."""
    model = KINDS[kind]
    if not (request.user.is_active and request.user.is_staff):
        return None
    if not request.user.has_perm(f"stories.view_{model._meta.model_name}"):
        raise PermissionDenied(f"You may not view {model._meta.verbose_name_plural}.")
    # Not the reader's gate: staff preview what is not public yet. Still the
    # one 404, so the page for a missing pk reads like every other.
    return get_or_not_found(model.objects.all(), pk=pk)


def staff_preview(request, kind: str, pk: int):
    target = _staff_target(request, kind, pk)
    if target is None:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    return _preview_response(request, target)


def shared_preview(request, token):
    link = (
        PreviewLink.objects.select_related("story", "issue")
        .filter(token=token, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    target = (link.story or link.issue) if link else None
    if target is None or share_refusal(target):
        # Expired, revoked and made-up tokens look the same, and so does a
        # link to what was withdrawn since: readers know nothing more of it.
        raise not_found()
    if is_public(target):
        return never_cache_privately(redirect(target.get_absolute_url()))
    return _preview_response(request, target, shared=link)


@require_POST
def share(request, kind: str, pk: int):
    target = _staff_target(request, kind, pk)
    if target is None:
        return redirect_to_login(_admin_url_for(kind, pk), reverse("admin:login"))
    if not request.user.has_perm("stories.add_previewlink"):
        raise PermissionDenied("You may not create share links.")
    try:
        link = create_share_link(request.user, target, _days(request.POST.get("days")))
    except ShareRefused as refusal:
        messages.error(request, str(refusal))
    else:
        until = clock.format_time(link.expires_at)
        messages.success(
            request, f"Share link created; it works until {until} unless revoked: {share_url(link)}"
        )
    return redirect(_admin_url(target))


def _days(posted: str | None) -> int:
    """The number of days a posted form chose; 0 (refused) if it is not a number."""
    if posted is None:
        return DEFAULT_SHARE_LINK_DAYS
    try:
        return int(posted)
    except ValueError:  # not a number, or one with thousands of digits
        return 0


def _admin_url_for(kind: str, pk: int) -> str:
    return reverse(f"admin:stories_{kind}_change", args=[pk])
