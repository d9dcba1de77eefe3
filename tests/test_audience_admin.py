"""The audience admin: who may see, import and export subscribers (the
Audience group; writers, editors and publishers see none of it), counts per
newsletter, the chart of confirmed subscribers, and the CSV import flow."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from newsletters.models import SubscriberImport, Subscription, Suppression
from tests.factories import (
    SubscriptionFactory,
    UserFactory,
    audience_member,
    default_newsletter,
    ensure_editorial_groups,
    user_in,
)

pytestmark = pytest.mark.django_db

SUBSCRIBER_PAGES = [
    reverse("admin:newsletters_subscription_changelist"),
    reverse("admin:newsletters_subscriber_changelist"),
    reverse("admin:newsletters_suppression_changelist"),
    reverse("admin:newsletters_subscriberimport_changelist"),
    reverse("admin:newsletters_subscription_export"),
    reverse("admin:newsletters_subscriberimport_add"),
]


def _person(role):
    if role == "audience":
        return audience_member(username="audience")
    if role == "superuser":
        ensure_editorial_groups()
        return UserFactory(username="boss", is_superuser=True)
    return user_in(role.capitalize() + "s", username=role)


@pytest.mark.parametrize("role", ["writer", "editor", "publisher"])
def test_editorial_roles_see_no_subscriber_data(client, role):
    SubscriptionFactory(subscriber__email="secret.reader@example.com")
    client.force_login(_person(role))
    for url in SUBSCRIBER_PAGES:
        response = client.get(url)
        assert response.status_code == 403, url
    index = client.get(reverse("admin:index")).content.decode()
    assert "Subscription" not in index and "secret.reader" not in index


def test_the_audience_group_migration_grants_exactly_its_permissions():
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = ("newsletters", "0002_audience_group")
    Group.objects.filter(name="Audience").delete()
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(migration, at_end=True)
    (operation,) = executor.loader.get_migration(*migration).operations
    operation.code(state.apps, None)
    granted = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name="Audience").permissions.select_related("content_type")
    }
    assert granted == {
        "stories.view_newsletter",
        *(
            f"newsletters.{codename}"
            for codename in (
                "view_subscriber",
                "change_subscriber",
                "add_subscriber",
                "export_subscribers",
                "import_subscribers",
                "view_subscription",
                "change_subscription",
                "view_consentrecord",
                "view_suppression",
                "add_suppression",
                "view_subscriberimport",
                "add_subscriberimport",
            )
        ),
    }


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    for url in SUBSCRIBER_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("role", ["audience", "superuser"])
def test_the_audience_group_sees_searches_and_exports_subscribers(client, role):
    SubscriptionFactory(subscriber__email="ada@example.com", state="confirmed")
    SubscriptionFactory(subscriber__email="bo@example.com", state="pending")
    client.force_login(_person(role))
    listing = client.get(SUBSCRIBER_PAGES[0], {"state": "pending"}).content.decode()
    assert "bo@example.com" in listing and "ada@example.com" not in listing
    assert "Export these as CSV" in listing and "Import CSV" in listing
    addresses = client.get(SUBSCRIBER_PAGES[1]).content.decode()
    assert "ada@example.com" in addresses and "bo@example.com" in addresses
    ada = Subscription.objects.get(subscriber__email="ada@example.com").subscriber
    detail = client.get(reverse("admin:newsletters_subscriber_change", args=[ada.pk]))
    assert detail.status_code == 200 and b"None: mail may go to this address." in detail.content
    searched = client.get(SUBSCRIBER_PAGES[0], {"q": "ada@"}).content.decode()
    assert "ada@example.com" in searched and "bo@example.com" not in searched
    export = client.get(SUBSCRIBER_PAGES[4], {"state": "confirmed"})
    assert export.status_code == 200 and export.streaming
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [row[0] for row in rows[1:]] == ["ada@example.com"]
    assert "no-store" in export["Cache-Control"] and "private" in export["Cache-Control"]


def test_the_subscription_list_keeps_its_queries_fixed(client, django_assert_max_num_queries):
    client.force_login(audience_member(username="audience"))
    for n in range(30):
        SubscriptionFactory(subscriber__email=f"r{n}@example.com")
    client.get(SUBSCRIBER_PAGES[0])
    # Session and user, permissions, the count, the filtered count, the page
    # of rows with subscriber and newsletter joined, the newsletter filter's
    # choices, and the date hierarchy's years.
    with django_assert_max_num_queries(10):
        assert client.get(SUBSCRIBER_PAGES[0]).status_code == 200


def test_staff_unsubscribe_goes_through_the_service_and_is_logged(client):
    subscription = SubscriptionFactory(state="confirmed")
    client.force_login(audience_member(username="audience"))
    response = client.post(
        SUBSCRIBER_PAGES[0],
        {"action": "unsubscribe_selected", "_selected_action": [subscription.pk]},
        follow=True,
    )
    assert "Unsubscribed 1 subscription" in response.content.decode()
    subscription.refresh_from_db()
    assert (subscription.state, subscription.unsubscribed_via) == ("unsubscribed", "staff")


def test_newsletter_list_shows_counts_only_to_those_who_may_see_subscribers(client):
    newsletter = default_newsletter()
    for state in ("confirmed", "confirmed", "pending", "unsubscribed"):
        SubscriptionFactory(newsletter=newsletter, state=state)
    url = reverse("admin:stories_newsletter_changelist")
    client.force_login(user_in("Editors", username="editor"))
    editor_view = client.get(url).content.decode()
    assert newsletter.name in editor_view and "column-confirmed_count" not in editor_view
    client.force_login(audience_member(username="audience"))
    html = client.get(url).content.decode()
    assert '<td class="field-confirmed_count">2</td>' in html
    assert '<td class="field-pending_count">1</td>' in html
    assert '<td class="field-unsubscribed_count">1</td>' in html


def test_the_chart_of_confirmed_subscribers_is_an_inline_svg_without_script(client):
    newsletter = default_newsletter()
    now = timezone.now()
    for days in (200, 100, 10):
        SubscriptionFactory(newsletter=newsletter, confirmed_at=now - timedelta(days=days))
    SubscriptionFactory(
        newsletter=newsletter,
        state="unsubscribed",
        confirmed_at=now - timedelta(days=50),
        unsubscribed_at=now - timedelta(days=5),
    )
    client.force_login(audience_member(username="audience"))
    html = client.get(reverse("admin:stories_newsletter_change", args=[newsletter.pk])).content
    html = html.decode()
    assert "<svg" in html and "<polyline" in html
    assert "3 now, 4 at most" in html and "at the start" in html
    chart = html[html.index("<svg") : html.index("</svg>")]
    assert "<script" not in chart and "style=" not in chart
    client.force_login(user_in("Publishers", username="publisher"))
    publisher_view = client.get(reverse("admin:stories_newsletter_change", args=[newsletter.pk]))
    assert b"subscriber-chart" not in publisher_view.content


def test_publishers_change_newsletters_and_writers_cannot_see_them(client):
    newsletter = default_newsletter()
    url = reverse("admin:stories_newsletter_change", args=[newsletter.pk])
    client.force_login(user_in("Writers", username="writer"))
    assert client.get(url).status_code == 403
    client.force_login(user_in("Publishers", username="publisher"))
    response = client.post(
        url,
        {
            "name": newsletter.name,
            "slug": newsletter.slug,
            "description": "",
            "sender_name": "The Desk",
            "sender_email": "desk@newsroom.example",
            "reply_to": "",
            "postal_address": "2 Example Road",
            "is_default": "on",
        },
    )
    assert response.status_code == 302
    newsletter.refresh_from_db()
    assert newsletter.from_address == "The Desk <desk@newsroom.example>"


def _upload(client, text: str, basis="Asked at our conference stand on a signed paper form."):
    return client.post(
        reverse("admin:newsletters_subscriberimport_add"),
        {
            "newsletter": default_newsletter().pk,
            "file": SimpleUploadedFile("list.csv", text.encode(), content_type="text/csv"),
            "consent_basis": basis,
            "confirm": "on",
        },
    )


def test_an_import_is_previewed_then_run_by_a_task(client, django_capture_on_commit_callbacks):
    Suppression.objects.create(email_hash="x" * 64, reason="bounced")
    client.force_login(audience_member(username="audience"))
    response = _upload(client, "email,name\nada@example.com,Ada\nbad row\nbo@example.com,Bo\n")
    assert response.status_code == 302
    job = SubscriberImport.objects.get()
    preview = client.get(response["Location"]).content.decode()
    assert "New subscriptions</th><td>2" in preview and "Start the import" in preview
    assert "<td>3</td><td>Enter one email address, with no spaces" in preview
    assert not Subscription.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:newsletters_subscriberimport_start", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == 2 and job.error_count == 1
    assert Subscription.objects.filter(state="confirmed", source="import").count() == 2
    done = client.get(reverse("admin:newsletters_subscriberimport_change", args=[job.pk]))
    assert b"100%" in done.content
    # Starting it again does nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:newsletters_subscriberimport_start", args=[job.pk]))
    assert Subscription.objects.count() == 2


def test_a_finished_import_accounts_for_every_row_of_its_file(
    client, django_capture_on_commit_callbacks
):
    client.force_login(audience_member(username="audience"))
    rows = "ada@example.com\nbo@example.com\nADA@example.com\nnot an address\n"
    with time_machine.travel(datetime(2026, 11, 30, 6, 36, tzinfo=UTC), tick=False):
        response = _upload(client, "email\n" + rows)
    job = SubscriberImport.objects.get()
    preview = client.get(response["Location"]).content.decode()
    assert "Rows in the file</th><td>4" in preview
    # The upload's time prints once, with no doubled full stop after "a.m.".
    assert ".. Status" not in preview and "m.. " not in preview
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:newsletters_subscriberimport_start", args=[job.pk]))
    done = client.get(reverse("admin:newsletters_subscriberimport_change", args=[job.pk]))
    html = " ".join(done.content.decode().split())
    assert "2 of 2 distinct addresses" in html
    assert (
        "The file's other rows: 1 repeated an address already in it (merged into its "
        "first row) and 1 had errors" in html
    )


def test_an_import_needs_a_stated_consent_basis_and_its_confirmation(client):
    client.force_login(audience_member(username="audience"))
    response = _upload(client, "email\nada@example.com\n", basis="")
    assert response.status_code == 200 and b"This field is required" in response.content
    unconfirmed = client.post(
        reverse("admin:newsletters_subscriberimport_add"),
        {
            "newsletter": default_newsletter().pk,
            "file": SimpleUploadedFile("list.csv", b"email\nada@example.com\n"),
            "consent_basis": "Asked at our conference stand on a signed paper form.",
        },
    )
    assert b"An import needs your confirmation" in unconfirmed.content
    bad_file = _upload(client, "name\nAda\n")
    assert b"must name the columns" in bad_file.content
    assert not SubscriberImport.objects.exists()


def test_a_suppression_added_by_staff_keeps_only_the_hash(client):
    client.force_login(audience_member(username="audience"))
    response = client.post(
        reverse("admin:newsletters_suppression_add"),
        {"email": "Blocked@Example.com", "reason": "blocked", "note": "Asked by phone"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert "blocked@example.com" not in str(Suppression.objects.values().get())
    assert suppression.reason == "blocked"


def test_the_newsletter_form_prints_its_help_texts_whole(client):
    """Help texts are HTML in the admin: a placeholder in angle brackets
    would vanish as an unknown tag, leaving "/newsletters//."."""
    newsletter = default_newsletter()
    client.force_login(user_in("Publishers", username="publisher"))
    html = client.get(reverse("admin:stories_newsletter_change", args=[newsletter.pk])).content
    assert b"Its address: /newsletters/ followed by the slug." in html
    assert b"(/issues/ followed by a number)" in html
    assert b"/newsletters//" not in html and b"/issues//" not in html
