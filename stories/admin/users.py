"""People in the admin: Django's user admin, and the one thing writers and
editors need from it without being given it: choosing a story's bylines."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from stories.admin.base import TimesInTheNewsroomZone
from stories.publishing.changes import ShownThingChangesFollow

User = get_user_model()

# The story form's "Authors" picker asks the admin's autocomplete for users
# with these parameters (StoryAdmin.autocomplete_fields).
BYLINE_PICKER = {"app_label": "stories", "model_name": "story", "field_name": "authors"}


def is_byline_picker(request) -> bool:
    """Whether request is the story form's "Authors" autocomplete."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name != "autocomplete":
        return False
    return all(request.GET.get(name) == value for name, value in BYLINE_PICKER.items())


admin.site.unregister(User)


@admin.register(User)
class NewsroomUserAdmin(TimesInTheNewsroomZone, ShownThingChangesFollow, UserAdmin):
    """Django's user admin; whoever may write stories may also look people up
    for a byline, and only there, without seeing the user pages. Its dates
    (joined, last sign-in) are read in the newsroom's zone and kept in its span.
    A person renamed or deleted here leaves no byline with the old name."""

    def has_view_permission(self, request, obj=None):
        if super().has_view_permission(request, obj):
            return True
        return is_byline_picker(request) and request.user.has_perm("stories.add_story")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if is_byline_picker(request):
            # Bylines name people of the newsroom who can still sign in.
            queryset = queryset.filter(is_active=True, is_staff=True)
        return queryset, may_have_duplicates
