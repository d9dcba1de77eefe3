"""Helpers for driving the story admin the way a browser does: real GETs and POSTs."""

from django.forms import FileField, MultiWidget
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
        value = form[name].value()
        if isinstance(field.widget, MultiWidget) and not isinstance(value, list | tuple):
            # A date and a time, say: posted as name_0, name_1.
            for index, part in enumerate(field.widget.decompress(value)):
                if _value(part) is not None:
                    data[f"{form.add_prefix(name)}_{index}"] = _value(part)
            continue
        value = _value(value)
        if value is not None:
            data[form.add_prefix(name)] = value
    return data


def story_form_data(client, story, **changes) -> dict:
    """What the change form would post as it is shown to client, with changes applied."""
    response = client.get(change_url(story))
    assert response.status_code == 200, response.status_code
    return form_as_shown(response, **changes)


def admin_form_data(client, url, **changes) -> dict:
    """What any admin change form at url would post as shown to client, with changes applied."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return form_as_shown(response, **changes)


def form_as_shown(response, **changes) -> dict:
    """What a browser posts for the change form on this page, with changes applied."""
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
