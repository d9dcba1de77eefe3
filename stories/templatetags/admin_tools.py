"""Template helpers for the admin's object tools."""

from django import template

from stories.models import Issue, Story
from stories.reader.preview import is_public

register = template.Library()


@register.filter
def readers_can_see(obj) -> bool:
    """Whether readers can open obj's public page now: a story or an issue
    through the one gate; other objects have no such rule."""
    if isinstance(obj, Story | Issue):
        return is_public(obj)
    return True
