"""The admin site: Django's, with people offered by name and stories by
status, date and newsletter in its pickers, and
every list's date filters and selections checked before Django applies them."""

from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.views.main import IGNORED_PARAMS
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.http import urlencode
from django.utils.text import Truncator

from stories import timebounds
from stories.people import person_label


class NamedPeopleAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete results that name a person as a byline prints them, with
    the username to tell namesakes apart (a user's str() is the username)."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if isinstance(obj, get_user_model()):
            result["text"] = person_label(obj)
        elif (
            obj._meta.label_lower == "stories.story"
            and self.source_field.model._meta.model_name == "issueitem"
        ):
            # Status, date, newsletter and address: namesakes told apart.
            result["text"] = obj.choice_label()
        return result


def names_a_row(field, value) -> bool:
    """Whether value is one the column of field holds (for an id: a number,
    and not past the column), so that looking it up cannot fail."""
    try:
        field.clean(value, None)  # for an id: a number the column holds
    except ValidationError:
        return False
    return True


def with_list_input_checked(changelist_view, model_admin):
    """changelist_view, first dropping every filter on a date that cannot be
    applied (a date hierarchy's ?created_at__year=9999, a ?created_at__gte
    past the span or not a date at all), each with a message saying why, so
    that the list is shown without it rather than failing; and refusing an
    action on a selection that names no row ("abc", a number past the
    column), which Django would look up and fail on."""
    model = model_admin.model
    hierarchy = model_admin.date_hierarchy
    drill_down = (
        {f"{hierarchy}__{part}" for part in ("year", "month", "day")} if hierarchy else set()
    )

    @wraps(changelist_view)
    def view(request, *args, **kwargs):
        selected = request.POST.getlist(ACTION_CHECKBOX_NAME) if request.method == "POST" else []
        if not all(names_a_row(model._meta.pk, value) for value in selected):
            messages.warning(
                request, "The selection names rows that do not exist, so nothing was done."
            )
            return HttpResponseRedirect(request.get_full_path())
        refused = {}
        for key, values in request.GET.lists():
            if key in IGNORED_PARAMS:
                continue
            for value in values:
                refusal = timebounds.lookup_refusal(model, key, value)
                if refusal:
                    refused[key] = (value, refusal)
                    break
        if not refused:
            return changelist_view(request, *args, **kwargs)
        for key, (value, refusal) in refused.items():
            shown = Truncator(f"{key}={value}").chars(80)
            messages.warning(request, f"The filter “{shown}” was left out: {refusal}")
        # A month or a day of the date hierarchy means nothing without its year.
        dropped = set(refused) | (set(drill_down) if drill_down & set(refused) else set())
        kept = [(k, v) for k, values in request.GET.lists() if k not in dropped for v in values]
        return HttpResponseRedirect(request.path + (f"?{urlencode(kept)}" if kept else ""))

    return view


class NewsroomAdminSite(admin.AdminSite):
    def autocomplete_view(self, request):
        return NamedPeopleAutocompleteJsonView.as_view(admin_site=self)(request)

    def admin_view(self, view, cacheable=False):
        # Every model's list, this app's or another's (accounts, sign-in
        # attempts), goes through here: ModelAdmin wraps its views with it.
        model_admin = getattr(view, "__self__", None)
        if isinstance(model_admin, admin.ModelAdmin) and view.__name__ == "changelist_view":
            view = with_list_input_checked(view, model_admin)
        return super().admin_view(view, cacheable)


class NewsroomAdminConfig(AdminConfig):
    default_site = "newsroom.admin_site.NewsroomAdminSite"
