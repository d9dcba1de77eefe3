"""Template helpers for the reader's site and its admin preview tools."""

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from stories import images, people
from stories.models import Issue, Story
from stories.reader.preview import DEFAULT_SHARE_LINK_DAYS, SHARE_LINK_DAYS, share_refusal

register = template.Library()


@register.simple_tag
def site_name() -> str:
    """The site's name from settings: works where no context processor ran
    (the 500 page is rendered without a request or database)."""
    return settings.SITE_NAME


@register.filter
def machine_time(value) -> str:
    """A date or time for a <time datetime> or a meta tag: ISO 8601 to the
    second in the current time zone. Django's |date:"c" keeps microseconds,
    which HTML's datetime syntax does not allow."""
    if not value:
        return ""
    if hasattr(value, "hour"):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.isoformat(timespec="seconds")
    return value.isoformat()


@register.filter
def lead_srcset(story) -> str:
    return images.srcset(story.lead_image, story.lead_image_renditions or {})


register.filter("display_name", people.display_name)


@register.filter
def demote_headings(html: str) -> str:
    """Shift headings of already-sanitised Markdown one level down, for a
    story shown under a story headline inside an issue."""
    for level in (5, 4, 3, 2):
        html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(
            f"</h{level}>", f"</h{level + 1}>"
        )
    return mark_safe(html)


@register.filter
def promote_headings(html: str) -> str:
    """Undo demote_headings, for a story's kept HTML shown with no story
    headline above it (an issue in the post format, under the issue's h1)."""
    for level in (3, 4, 5, 6):
        html = html.replace(f"<h{level}>", f"<h{level - 1}>").replace(
            f"</h{level}>", f"</h{level - 1}>"
        )
    return mark_safe(html)


@register.simple_tag(takes_context=True)
def preview_tools(context, obj) -> dict | None:
    """Addresses for the admin's "Preview" and "Create share link" tools."""
    if not isinstance(obj, Story | Issue) or obj.pk is None:
        return None
    kind = obj._meta.model_name
    user = context["request"].user
    return {
        "kind": kind,
        "preview_url": reverse("stories:preview", args=[kind, obj.pk]),
        "share_url": reverse("stories:share_preview", args=[kind, obj.pk]),
        "can_share": user.has_perm("stories.add_previewlink") and share_refusal(obj) is None,
        "days": SHARE_LINK_DAYS,
        "default_days": DEFAULT_SHARE_LINK_DAYS,
    }
