"""The admin site: Django's, with people offered by name in its pickers."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.auth import get_user_model


class NamedPeopleAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete results that name a person as a byline prints them, with
    the username to tell namesakes apart (a user's str() is the username)."""

    def serialize_result(self, obj, to_field_name):
        from stories.admin.users import person_label

        result = super().serialize_result(obj, to_field_name)
        if isinstance(obj, get_user_model()):
            result["text"] = person_label(obj)
        return result


class NewsroomAdminSite(admin.AdminSite):
    def autocomplete_view(self, request):
        return NamedPeopleAutocompleteJsonView.as_view(admin_site=self)(request)


class NewsroomAdminConfig(AdminConfig):
    default_site = "newsroom.admin_site.NewsroomAdminSite"
