"""The story form's "Authors" picker: writers and editors look up people of
the newsroom for a byline, without being given the user admin."""

import pytest
from django.urls import reverse

from tests.factories import StoryFactory, UserFactory

pytestmark = pytest.mark.django_db

AUTOCOMPLETE = reverse("admin:autocomplete")
BYLINES = {"app_label": "stories", "model_name": "story", "field_name": "authors"}


@pytest.fixture
def people(db):
    """Three Wrens: one who can sign in to the admin, one who has left, one
    who never had a staff account."""
    return {
        "staff": UserFactory(username="wren-staff", first_name="Wren", last_name="Staff"),
        "left": UserFactory(
            username="wren-left", first_name="Wren", last_name="Left", is_active=False
        ),
        "reader": UserFactory(
            username="wren-reader", first_name="Wren", last_name="Reader", is_staff=False
        ),
    }


def found(client, **params) -> set[str]:
    response = client.get(AUTOCOMPLETE, {**BYLINES, **params})
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", ["writer", "editor"])
def test_writers_and_editors_find_active_staff_for_a_byline(client, request, people, role):
    client.force_login(request.getfixturevalue(role))
    assert found(client, term="wren") == {str(people["staff"].pk)}


def test_the_byline_picker_offers_only_active_staff_to_a_superuser_too(admin_client, people):
    assert found(admin_client, term="wren") == {str(people["staff"].pk)}


def test_publishers_who_write_no_stories_cannot_look_people_up(client, publisher, people):
    client.force_login(publisher)
    assert client.get(AUTOCOMPLETE, {**BYLINES, "term": "wren"}).status_code == 403


def test_writers_still_have_no_user_admin(client, writer, people):
    client.force_login(writer)
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    change = reverse("admin:auth_user_change", args=[people["staff"].pk])
    assert client.get(change).status_code == 403
    assert 'href="/admin/auth/user/"' not in client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize(
    "model_name, field_name",
    [("story", "created_by"), ("correction", "created_by"), ("previewlink", "created_by")],
)
def test_writers_cannot_look_people_up_through_other_fields(
    client, writer, people, model_name, field_name
):
    client.force_login(writer)
    params = {"app_label": "stories", "model_name": model_name, "field_name": field_name}
    response = client.get(AUTOCOMPLETE, {**params, "term": "wren"})
    assert response.status_code == 403


def test_the_users_admin_itself_still_lists_every_user_for_a_superuser(admin_client, people):
    response = admin_client.get(reverse("admin:auth_user_changelist"), {"q": "wren"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3


def test_people_are_offered_and_shown_by_name_with_their_username(client, writer, people):
    client.force_login(writer)
    response = client.get(AUTOCOMPLETE, {**BYLINES, "term": "wren"})
    assert [row["text"] for row in response.json()["results"]] == ["Wren Staff (wren-staff)"]
    nameless = UserFactory(username="nameless", first_name="", last_name="")
    response = client.get(AUTOCOMPLETE, {**BYLINES, "term": "nameless"})
    assert [row["text"] for row in response.json()["results"]] == ["nameless"]
    story = StoryFactory(created_by=writer, authors=[writer, people["staff"], nameless])
    form = client.get(reverse("admin:stories_story_change", args=[story.pk])).content.decode()
    assert f'<option value="{people["staff"].pk}" selected>Wren Staff (wren-staff)</option>' in form
    assert f'<option value="{nameless.pk}" selected>nameless</option>' in form
