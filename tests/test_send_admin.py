"""The issue's email in the admin: the preview, test sends through a real SMTP
server, and who may use them."""

import socket

import pytest
from django.urls import reverse

from newsletters.delivery import testsend
from newsletters.mail.message import list_id as message_list_id
from newsletters.mail.message import message_id
from newsletters.services import suppress_address
from stories.models import AuditEntry
from tests.factories import StoryFactory, issue_with_stories, published_issue

pytestmark = pytest.mark.django_db


def preview_url(issue):
    return reverse("admin:newsletters_issue_mail_preview", args=[issue.pk])


def html_url(issue):
    return reverse("admin:newsletters_issue_mail_html", args=[issue.pk])


def mail_test_url(issue):
    return reverse("admin:newsletters_issue_mail_test", args=[issue.pk])


def preview_urls(issue):
    return [preview_url(issue), html_url(issue)]


def sent_tests(issue):
    return AuditEntry.objects.filter(issue=issue, action=testsend.AUDIT_ACTION)


@pytest.fixture
def draft_issue():
    return issue_with_stories(
        2, headline="The AI Crucible: open models catch up", intro="Picks from The Sequence Radar."
    )


# -- the preview -------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "publisher"])
def test_editors_and_publishers_preview_an_unpublished_issue_as_subscribers_will_see_it(
    client, request, role, draft_issue
):
    client.force_login(request.getfixturevalue(role))
    response = client.get(preview_url(draft_issue))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The AI Crucible: open models catch up" in page
    # The plain-text alternative is on the page, with both stories.
    text = response.context["plain_text"]
    for item in draft_issue.items.select_related("story"):
        assert item.story.headline in text
    assert "Picks from The Sequence Radar." in text
    assert html_url(draft_issue) in page

    framed = client.get(html_url(draft_issue))
    assert framed.status_code == 200
    body = framed.content.decode()
    for item in draft_issue.items.select_related("story"):
        assert item.story.headline in body


def test_the_preview_leaves_out_a_withdrawn_story_as_the_mail_would(client, editor):
    issue = published_issue(2)
    kept, gone = [item.story for item in issue.items.order_by("position")]
    from stories.editorial import workflow

    workflow.withdraw_story(editor, gone, "The figures did not hold up.")
    client.force_login(editor)
    text = client.get(preview_url(issue)).context["plain_text"]
    assert kept.headline in text
    assert gone.headline not in text


def test_the_framed_mail_has_its_own_policy_no_script_and_only_the_admin_may_frame_it(
    client, editor, draft_issue
):
    client.force_login(editor)
    response = client.get(html_url(draft_issue))
    policy = response["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and "sandbox" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]
    # The page that frames it keeps the admin's own policy.
    page = client.get(preview_url(draft_issue))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]


def test_the_preview_warns_of_a_missing_postal_address(client, editor, draft_issue):
    draft_issue.newsletter.postal_address = ""
    draft_issue.newsletter.save()
    client.force_login(editor)
    page = client.get(preview_url(draft_issue)).content.decode()
    assert "has no postal address yet" in page


def test_the_issue_page_links_editors_to_the_preview(client, editor, draft_issue):
    client.force_login(editor)
    page = client.get(reverse("admin:stories_issue_change", args=[draft_issue.pk]))
    assert preview_url(draft_issue) in page.content.decode()


def test_writers_see_no_mail_panel_and_cannot_open_the_preview(client, writer, draft_issue):
    client.force_login(writer)
    page = client.get(reverse("admin:stories_issue_change", args=[draft_issue.pk]))
    assert page.status_code == 200
    assert preview_url(draft_issue) not in page.content.decode()
    for url in preview_urls(draft_issue):
        assert client.get(url).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client, draft_issue):
    for url in [*preview_urls(draft_issue), mail_test_url(draft_issue)]:
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_a_preview_of_an_issue_that_does_not_exist_is_a_404(client, editor):
    client.force_login(editor)
    assert client.get(preview_url(type("Gone", (), {"pk": 987654})())).status_code == 404


# -- test sends --------------------------------------------------------------


def test_send_a_test_to_me_goes_through_the_mail_server_and_into_the_audit_trail(
    client, editor, draft_issue, smtp_server
):
    client.force_login(editor)
    response = client.post(mail_test_url(draft_issue), {"to": "me"}, follow=True)
    assert response.status_code == 200
    [caught] = smtp_server.wait_for(1)
    assert caught.recipients == (editor.email,)
    assert caught.subject == "[Test] The AI Crucible: open models catch up"
    # A fresh Message-ID, so the reviewer's client does not fold a second test into the first.
    assert caught.header("Message-ID") != message_id(draft_issue, 0)
    # No one-click claim (RFC 8058): a reviewer has no subscription for a
    # POST to end, and the newsletter page the links lead to accepts none.
    assert caught.header("List-Unsubscribe-Post") is None
    assert caught.header("List-Unsubscribe") is None
    assert caught.header("List-Id") == message_list_id(draft_issue.newsletter)
    html = caught.message.get_body(("html",)).get_content()
    text = caught.message.get_body(("plain",)).get_content()
    for item in draft_issue.items.select_related("story"):
        assert item.story.headline in html and item.story.headline in text
    [entry] = sent_tests(draft_issue)
    assert entry.actor == editor and editor.email in entry.comment
    assert f"A test of the email went to {editor.email}." in response.content.decode()


def test_a_second_test_carries_a_different_message_id(client, publisher, draft_issue, smtp_server):
    client.force_login(publisher)
    client.post(mail_test_url(draft_issue), {"to": "me"})
    client.post(mail_test_url(draft_issue), {"to": "me"})
    first, second = smtp_server.wait_for(2)
    assert first.header("Message-ID") != second.header("Message-ID")
    assert sent_tests(draft_issue).count() == 2


def test_a_test_goes_to_a_list_of_reviewers_over_one_connection(
    client, editor, draft_issue, smtp_server
):
    client.force_login(editor)
    reviewers = "Ana@Example.com, ben@example.org\ncara@example.net; ana@example.com"
    client.post(mail_test_url(draft_issue), {"to": "reviewers", "reviewers": reviewers})
    caught = smtp_server.wait_for(3)
    assert sorted(m.recipients[0] for m in caught) == [
        "ana@example.com",
        "ben@example.org",
        "cara@example.net",
    ]
    assert len({m.connection for m in caught}) == 1
    [entry] = sent_tests(draft_issue)
    assert "ben@example.org" in entry.comment


@pytest.mark.parametrize(
    ("reviewers", "sentence"),
    [
        ("ana@example.com, not-an-address", "These are not email addresses: not-an-address."),
        ("", "Name at least one address"),
        (
            ", ".join(f"r{n}@example.com" for n in range(testsend.MAX_RECIPIENTS + 1)),
            f"A test goes to at most {testsend.MAX_RECIPIENTS} addresses",
        ),
    ],
)
def test_a_bad_list_of_reviewers_is_refused_with_a_sentence_and_nothing_is_sent(
    client, editor, draft_issue, smtp_server, reviewers, sentence
):
    client.force_login(editor)
    response = client.post(mail_test_url(draft_issue), {"to": "reviewers", "reviewers": reviewers})
    assert response.status_code == 200
    assert sentence in response.content.decode()
    assert smtp_server.messages == []
    assert not sent_tests(draft_issue).exists()


def test_a_suppressed_address_gets_no_test(client, editor, draft_issue, smtp_server):
    suppress_address("gone@example.com", "bounced")
    client.force_login(editor)
    response = client.post(
        mail_test_url(draft_issue), {"to": "reviewers", "reviewers": "gone@example.com"}
    )
    assert "No mail may go to gone@example.com" in response.content.decode()
    assert smtp_server.messages == []


def test_an_address_the_server_refuses_is_named_and_the_others_still_get_theirs(
    client, editor, draft_issue, smtp_server
):
    smtp_server.refuse("nobody@example.com", "550 5.1.1 No such user")
    client.force_login(editor)
    response = client.post(
        mail_test_url(draft_issue),
        {"to": "reviewers", "reviewers": "nobody@example.com, ana@example.com"},
        follow=True,
    )
    page = response.content.decode()
    assert "The test to nobody@example.com was refused by the mail server (550" in page
    [caught] = smtp_server.wait_for(1)
    assert caught.recipients == ("ana@example.com",)
    [entry] = sent_tests(draft_issue)
    assert "ana@example.com" in entry.comment and "nobody@example.com" not in entry.comment


def test_a_mail_server_that_is_down_is_a_message_not_a_500(client, editor, draft_issue, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    client.force_login(editor)
    response = client.post(mail_test_url(draft_issue), {"to": "me"}, follow=True)
    assert response.status_code == 200
    assert f"The test to {editor.email} was not sent" in response.content.decode()
    assert not sent_tests(draft_issue).exists()


def test_an_account_without_an_address_is_told_so(client, editor, draft_issue, smtp_server):
    editor.email = ""
    editor.save()
    client.force_login(editor)
    response = client.post(mail_test_url(draft_issue), {"to": "me"})
    assert "Your account has no email address" in response.content.decode()
    assert smtp_server.messages == []


def test_writers_cannot_send_a_test(client, writer, draft_issue, smtp_server):
    client.force_login(writer)
    response = client.post(mail_test_url(draft_issue), {"to": "me"})
    assert response.status_code == 403
    assert smtp_server.messages == []
    with pytest.raises(testsend.SendTestError):
        testsend.send_test(writer, draft_issue, ["writer@example.com"])


def test_a_test_is_sent_only_by_post(client, editor, draft_issue, smtp_server):
    client.force_login(editor)
    assert client.get(mail_test_url(draft_issue) + "?to=me").status_code == 405
    assert smtp_server.messages == []


def test_tests_per_hour_are_limited(client, editor, draft_issue, smtp_server, settings):
    client.force_login(editor)
    for _ in range(testsend.PER_HOUR):
        client.post(mail_test_url(draft_issue), {"to": "me"})
    response = client.post(mail_test_url(draft_issue), {"to": "me"})
    assert f"You have sent {testsend.PER_HOUR} test copies in the last hour" in (
        response.content.decode()
    )
    assert len(smtp_server.wait_for(testsend.PER_HOUR)) == testsend.PER_HOUR


def test_an_unapproved_story_shows_in_the_preview_with_what_blocks_the_issue(client, editor):
    draft = StoryFactory(headline="Mistral releases Pixtral 12B")
    issue = issue_with_stories(stories=[draft])
    client.force_login(editor)
    response = client.get(preview_url(issue))
    assert "Mistral releases Pixtral 12B" in response.context["plain_text"]
    assert response.context["blockers"]


POST_ONLY = {"mail/test", "mail/pause"}


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999999", "-1", "1.5", "%20"])
@pytest.mark.parametrize(
    "suffix", ["mail", "mail/html", "mail/test", "mail/progress", "mail/failed", "mail/pause"]
)
def test_an_id_that_names_no_issue_is_a_404_not_a_500(client, publisher, object_id, suffix):
    client.force_login(publisher)
    url = f"/admin/stories/issue/{object_id}/{suffix}/"
    # The POST-only ones refuse a GET before looking anything up.
    assert client.get(url).status_code == (405 if suffix in POST_ONLY else 404)
    assert client.post(url).status_code == 404
