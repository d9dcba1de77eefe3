"""Helpers for driving the story admin the way a browser does: real GETs and POSTs."""

from django.forms import FileField
from django.urls import reverse


def change_url(story) -> str:
    return reverse("admin:stories_story_change", args=[story.pk])


def transition_url(story, name: str) -> str:
    return reverse("admin:stories_story_transition", args=[story.pk, name])


def _value(value):
    if value is None or value is False:
        return None
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def _bound_values(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        if isinstance(field, FileField):
            continue  # a browser posts no file when none is chosen
        value = _value(form[name].value())
        if value is not None:
            data[form.add_prefix(name)] = value
    return data


def story_form_data(client, story, **changes) -> dict:
    """What the change form would post as it is shown to client, with changes applied."""
    response = client.get(change_url(story))
    assert response.status_code == 200, response.status_code
    data = _bound_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_bound_values(formset.management_form))
        for form in formset.forms:
            data.update(_bound_values(form))
    data.update(changes)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def ensure_editorial_groups() -> None:
    """Recreate the role groups migration 0002 makes. Transactional tests empty
    every table when they finish, so a later one cannot rely on migration data."""
    import importlib

    from django.contrib.auth.models import Group, Permission

    groups = importlib.import_module("stories.migrations.0002_editorial_groups").GROUPS
    for name, codenames in groups.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="stories", codename__in=codenames)
        )
