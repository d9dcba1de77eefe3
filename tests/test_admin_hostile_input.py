"""No 500 from a signed-in writer either: whatever the admin's lists, filters,
searches, date hierarchies and autocompletes are sent, they answer with a
page, a redirect or a 4xx (the sign-in form: tests/test_login_throttling.py).

Every registered list and every autocomplete the admin's forms use is probed
with each class of hostile value: NUL characters, overlong values, dates
outside the span the newsroom holds (in zones where they leave Python's span
in UTC) and malformed numbers.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from newsroom.security import NUL_REFUSAL
from stories.admin.story_views import NO_SEEN_VERSION
from stories.editorial import workflow
from tests.factories import (
    CorrectionFactory,
    StoryFactory,
    UserFactory,
    published_issue,
    scheduled_issue,
)

pytestmark = pytest.mark.django_db

CHANGELISTS = sorted(
    f"{model._meta.app_label}_{model._meta.model_name}" for model in admin.site._registry
)


def autocompletes() -> list[dict[str, str]]:
    """The autocomplete requests the admin's forms and inlines make."""
    found = []
    for model, model_admin in admin.site._registry.items():
        owners = [(model, model_admin)] + [(inline.model, inline) for inline in model_admin.inlines]
        for owner, options in owners:
            for field_name in options.autocomplete_fields:
                found.append(
                    {
                        "app_label": owner._meta.app_label,
                        "model_name": owner._meta.model_name,
                        "field_name": field_name,
                    }
                )
    return found


@pytest.fixture
def desk(settings):
    """Some of everything, so filters have values to work on, and a superuser
    who sees every list."""
    issue = published_issue(2)
    scheduled_issue(1)
    CorrectionFactory(story=issue.stories.first())
    StoryFactory()
    AccessAttempt.objects.create(
        username="someone", ip_address="203.0.113.9", user_agent="x", failures_since_start=1
    )
    staff = Client(raise_request_exception=False)
    staff.force_login(UserFactory(username="chief", is_superuser=True))
    return staff


def filter_parameters(client, url) -> list[str]:
    """The query parameters the list's own filters read."""
    context = client.get(url).context
    names = []
    for spec in context["cl"].filter_specs:
        names += spec.expected_parameters()
    return names


def hostile(client, url, model_admin) -> dict[str, list[list[tuple[str, str]]]]:
    hierarchy = model_admin.date_hierarchy
    filters = filter_parameters(client, url)
    overlong = "x" * 5000
    probes = {
        "nul": [[("q", "\x00")], [("o", "\x00")], [("p", "\x00")], [("\x00", "1")]]
        + [[(name, "\x00")] for name in filters]
        + [[(name, "a\x00b")] for name in filters],
        "overlong": [
            [("q", overlong)],
            [("q", "é" * 3000)],
            [("o", "9" * 500)],
            [("p", "9" * 5000)],
        ]
        + [[(name, overlong)] for name in filters],
        "numbers": [
            [("p", value)] for value in ("-1", "0", "1e3", "99999999999999999999", "½", "NaN")
        ]
        + [[("o", value)] for value in ("99", "-1", "1.2", "x", "1.1.1.1")]
        + [[("q", value)] for value in ("99999999999999999999", "-99999999999999999999", "1e999")]
        + [
            [(name, value)]
            for name in filters
            for value in ("abc", "-1", "1.5", "99999999999999999999", "1e999")
        ],
        "dates": [],
    }
    if hierarchy:
        part = lambda name: f"{hierarchy}__{name}"  # noqa: E731
        probes["dates"] = [
            [(part("year"), "9999")],
            [(part("year"), "0")],
            [(part("year"), "-1")],
            [(part("year"), "99999999999999999999")],
            [(part("year"), "9999"), (part("month"), "12")],
            [(part("year"), "9999"), (part("month"), "12"), (part("day"), "31")],
            [(part("year"), "2025"), (part("month"), "13")],
            [(part("year"), "2025"), (part("month"), "2"), (part("day"), "30")],
            [(part("month"), "12"), (part("day"), "99999999999999999999")],
            [(part("gte"), "9999-12-31 23:59")],
            [(part("lt"), "0001-01-01")],
            [(part("gte"), "10000-01-01")],
            [(part("lt"), "yesterday")],
            [(part("range"), "0001-01-01,9999-12-31")],
            [(part("date"), "9999-12-31")],
        ]
    return probes


def query(params) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


# Where the ends of the calendar leave Python's span in UTC: 9999-12-31 23:59
# is in the year 10000, 0001-01-01 00:00 in the year 0.
ZONES = ["America/New_York", "Europe/Berlin"]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_no_list_answers_5xx_to_any_class_of_hostile_value(desk, settings, changelist):
    url = reverse(f"admin:{changelist}_changelist")
    model_admin = next(
        options
        for model, options in admin.site._registry.items()
        if f"{model._meta.app_label}_{model._meta.model_name}" == changelist
    )
    failures = []
    for kind, cases in hostile(desk, url, model_admin).items():
        for zone in ZONES if kind == "dates" else ZONES[:1]:
            settings.TIME_ZONE = zone
            for params in cases:
                address = f"{url}?{query(params)}"
                response = desk.get(address)
                if response.status_code >= 500:
                    failures.append((kind, zone, address[:200], response.status_code))
                if kind == "nul":
                    assert response.status_code == 400, address
                    assert NUL_REFUSAL in response.content.decode()
    assert failures == []


@pytest.mark.parametrize("params", autocompletes(), ids=lambda p: ".".join(p.values()))
def test_no_autocomplete_answers_5xx_to_any_class_of_hostile_value(desk, params):
    url = reverse("admin:autocomplete")
    cases = {
        "nul": [{"term": "\x00"}, {"term": "a\x00"}, {"field_name": "\x00"}],
        "overlong": [{"term": "x" * 5000}, {"term": "é" * 3000}, {"field_name": "x" * 5000}],
        "numbers": [{"page": v} for v in ("-1", "0", "abc", "99999999999999999999", "1e999")]
        + [{"term": "99999999999999999999"}],
        "malformed": [{"model_name": "nosuchmodel"}, {"field_name": "nosuchfield"}, {}],
    }
    failures = []
    for kind, changes in cases.items():
        for change in changes:
            address = f"{url}?{query({**params, 'term': 'a', **change})}"
            response = desk.get(address)
            if response.status_code >= 500:
                failures.append((kind, address[:200], response.status_code))
            if kind == "nul":
                assert response.status_code == 400, address
    assert failures == []
    assert desk.get(f"{url}?{query({**params, 'term': 'a'})}").status_code == 200


MALFORMED_IDS = ["abc", "-1", "1.5", "1e999", "99999999999999999999", "½"]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_no_action_answers_5xx_to_a_selection_that_names_no_row(desk, changelist):
    url = reverse(f"admin:{changelist}_changelist")
    action_form = desk.get(url).context["action_form"]  # None: the list has no actions
    actions = action_form.fields["action"].choices if action_form else []
    name = next((name for name, _ in actions if name), "delete_selected")
    failures = []
    for selected in MALFORMED_IDS:
        data = {"action": name, "index": "0", "_selected_action": selected}
        response = desk.post(url, data)
        if response.status_code >= 500:
            failures.append((selected, response.status_code))
    assert failures == []


def forms_with_autocompletes() -> list[tuple[str, str]]:
    """(changelist, field) for every autocomplete field of every add form,
    inlines included (their field is named by the inline's model)."""
    found = []
    for model, model_admin in admin.site._registry.items():
        changelist = f"{model._meta.app_label}_{model._meta.model_name}"
        found += [(changelist, name) for name in model_admin.autocomplete_fields]
        for inline in model_admin.inlines:
            label = inline.model._meta.model_name
            found += [(changelist, f"{label}.{name}") for name in inline.autocomplete_fields]
    return found


@pytest.mark.parametrize(("changelist", "field"), forms_with_autocompletes())
def test_no_form_answers_5xx_to_a_choice_that_names_no_row(desk, changelist, field):
    # The form says the choice is not valid, and is shown again with it.
    url = reverse(f"admin:{changelist}_add")
    page = desk.get(url)
    if page.status_code != 200:  # a model added elsewhere only
        assert page.status_code == 403
        return
    data, target = {}, field
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for management in formset.management_form:
            data[management.html_name] = management.value()
        data[f"{formset.prefix}-TOTAL_FORMS"] = "1"
        if field.startswith(f"{formset.model._meta.model_name}."):
            target = f"{formset.prefix}-0-{field.split('.')[1]}"
    failures = []
    for value in MALFORMED_IDS:
        response = desk.post(url, {**data, target: value})
        if response.status_code >= 500:
            failures.append((value, response.status_code))
        else:
            assert response.status_code == 200, value
            assert "Please correct the error" in response.content.decode()
    assert failures == []


@pytest.mark.parametrize("version", ["99999999999999999999", "-1", "abc"])
def test_a_version_no_story_can_have_is_refused_with_a_sentence(client, editor, version):
    story = StoryFactory()
    workflow.submit_for_review(story.created_by, story)
    client.force_login(editor)
    response = client.post(
        reverse("admin:stories_story_transition", args=[story.pk, "approve"]),
        {"based_on_version": version},
        follow=True,
    )
    assert response.status_code == 200
    assert NO_SEEN_VERSION in response.content.decode()
    story.refresh_from_db()
    assert story.status == story.Status.IN_REVIEW

    form = client.get(reverse("admin:stories_story_change", args=[story.pk])).context["adminform"]
    data = {field.html_name: field.value() or "" for field in form.form}
    data.update({"based_on_version": version, "authors": [story.created_by.pk]})
    for prefix in ("citations", "topics"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:stories_story_change", args=[story.pk]), data)
    assert response.status_code == 200
    assert "did not say which version of the story it was opened at" in response.content.decode()


def test_a_nul_in_a_list_filter_is_refused_with_a_sentence_not_a_database_error(desk):
    response = desk.get("/admin/stories/story/?status=%00")
    assert response.status_code == 400
    assert response.content.decode() == NUL_REFUSAL
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_nul_in_a_posted_comment_is_refused_before_anything_is_recorded(client, editor, writer):
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    response = client.post(
        reverse("admin:stories_story_transition", args=[story.pk, "submit"]),
        {"comment": "Ready\x00 for review"},
    )
    assert response.status_code == 400
    story.refresh_from_db()
    assert story.status == story.Status.DRAFT


def test_a_nul_in_a_reader_search_is_refused_with_the_same_sentence(client):
    response = client.get("/search/?q=deep%00seek")
    assert response.status_code == 400
    assert response.content.decode() == NUL_REFUSAL
