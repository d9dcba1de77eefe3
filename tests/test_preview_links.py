"""Previews: staff see unpublished work from the admin; reviewers without an
account read it through a secret link that expires and can be revoked."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stories.editorial import workflow
from stories.models import PreviewLink
from stories.reader.preview import create_share_link
from tests.factories import (
    IssueFactory,
    StoryFactory,
    UserFactory,
    approved_story,
    issue_with_stories,
    user_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    return StoryFactory(headline="Embargoed scoop", dek="Not out yet.")


def assert_is_a_private_preview(response):
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="preview-banner"' in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "ETag" not in response


# -- staff preview ----------------------------------------------------------------


def test_editor_previews_a_draft_story_as_a_reader_would(client, editor, draft):
    client.force_login(editor)
    response = client.get(reverse("stories:preview", args=["story", draft.pk]))
    assert_is_a_private_preview(response)
    html = response.content.decode()
    assert "<h1>Embargoed scoop</h1>" in html and "Not published yet" in html
    assert f'href="/admin/stories/story/{draft.pk}/change/"' in html


def test_writer_with_view_permission_previews_a_draft_issue_with_its_stories(client, writer):
    issue = issue_with_stories(2, headline="Next week's issue")
    client.force_login(writer)
    response = client.get(reverse("stories:preview", args=["issue", issue.pk]))
    assert_is_a_private_preview(response)
    html = response.content.decode()
    assert "Next week&#x27;s issue" in html
    for story in issue.stories.all():
        assert story.headline in html


def test_anonymous_visitor_is_sent_to_log_in_instead_of_seeing_a_preview(client, draft):
    url = reverse("stories:preview", args=["story", draft.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert "Embargoed" not in response.content.decode()


def test_staff_without_view_permission_are_refused(client, draft):
    client.force_login(UserFactory(username="no-perms"))
    response = client.get(reverse("stories:preview", args=["story", draft.pk]))
    assert response.status_code == 403
    assert "Embargoed" not in response.content.decode()


# -- share links ------------------------------------------------------------------


def test_reviewer_without_account_reads_a_draft_through_a_share_link(client, editor, draft):
    link = create_share_link(editor, draft, days=7)
    response = client.get(f"/p/{link.token}/")
    assert_is_a_private_preview(response)
    html = response.content.decode()
    assert "<h1>Embargoed scoop</h1>" in html
    assert "This link works until" in html
    assert "/admin/" not in html  # a reviewer gets no way into the admin


def test_share_link_for_an_issue_shows_the_issue(client, editor):
    issue = IssueFactory(headline="Draft issue for review")
    link = create_share_link(editor, issue)
    assert "Draft issue for review" in client.get(f"/p/{link.token}/").content.decode()


def test_share_link_stops_working_once_it_expires(client, editor, draft):
    link = create_share_link(editor, draft, days=1)
    assert client.get(f"/p/{link.token}/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        assert client.get(f"/p/{link.token}/").status_code == 404


def test_revoked_share_link_is_the_same_404_as_a_made_up_one(client, admin_client, editor, draft):
    link = create_share_link(editor, draft)
    response = admin_client.post(
        reverse("admin:stories_previewlink_changelist"),
        {"action": "revoke", "_selected_action": [link.pk]},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    revoked = client.get(f"/p/{link.token}/")
    made_up = client.get("/p/00000000-0000-4000-8000-000000000000/")
    assert revoked.status_code == made_up.status_code == 404
    assert revoked.content == made_up.content


def test_share_link_redirects_to_the_public_page_once_published(client, editor, publisher):
    story = approved_story(headline="Soon public")
    link = create_share_link(editor, story)
    issue = issue_with_stories(stories=[story])
    issue_link = create_share_link(editor, issue)
    workflow.publish_issue_now(publisher, issue)
    response = client.get(f"/p/{link.token}/")
    assert response.status_code == 302 and response["Location"] == story.get_absolute_url()
    assert "no-store" in response["Cache-Control"]
    assert client.get(f"/p/{issue_link.token}/")["Location"] == issue.get_absolute_url()


def test_preview_pages_never_enter_the_page_cache(client, editor, draft, django_assert_num_queries):
    link = create_share_link(editor, draft)
    client.get(f"/p/{link.token}/")
    # Rendered afresh every time: 1 the link with its story, 2 is it public
    # yet, 3 the public issues it appeared in. The story's fragments (bylines,
    # attribution, topics, corrections) come from the cache.
    with django_assert_num_queries(3):
        response = client.get(f"/p/{link.token}/")
    assert response.status_code == 200


# -- creating links from the admin -------------------------------------------------


def test_editor_creates_a_share_link_from_the_story_form(client, editor, draft):
    client.force_login(editor)
    response = client.post(
        reverse("stories:share_preview", args=["story", draft.pk]), {"days": "3"}, follow=True
    )
    link = PreviewLink.objects.get(story=draft)
    assert link.created_by == editor
    assert timedelta(days=2, hours=23) < link.expires_at - timezone.now() <= timedelta(days=3)
    assert f"/p/{link.token}/" in response.content.decode()
    assert response.redirect_chain[0][0] == f"/admin/stories/story/{draft.pk}/change/"


def test_share_links_need_a_post_and_permission_to_create_them(client, publisher, draft):
    url = reverse("stories:share_preview", args=["story", draft.pk])
    client.force_login(publisher)  # may view stories, may not create links
    assert client.get(url).status_code == 405
    assert client.post(url, {"days": "7"}).status_code == 403
    assert not PreviewLink.objects.exists()


@pytest.mark.parametrize(
    "days", ["3650", "seven", "", pytest.param("9" * 5000, id="thousands-of-digits")]
)
def test_share_link_length_must_be_one_of_the_offered_choices(client, editor, draft, days):
    client.force_login(editor)
    response = client.post(
        reverse("stories:share_preview", args=["story", draft.pk]), {"days": days}, follow=True
    )
    assert not PreviewLink.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        "Choose how long the link lasts: 1, 3, 7, 14 or 30 days."
    ]


def test_admin_preview_tools_offer_preview_and_share_link(rf, editor, draft):
    request = rf.get("/")
    request.user = editor
    html = render_to_string(
        "admin/stories/_preview_tools.html", {"original": draft, "request": request}
    )
    assert f'href="/preview/story/{draft.pk}/"' in html
    assert f'action="/preview/story/{draft.pk}/share/"' in html
    request.user = AnonymousUser()
    html = render_to_string(
        "admin/stories/_preview_tools.html", {"original": draft, "request": request}
    )
    assert "Preview" in html and "Create share link" not in html


def test_preview_link_admin_shows_the_address_and_state(admin_client, editor, draft):
    link = create_share_link(editor, draft)
    changelist = admin_client.get(reverse("admin:stories_previewlink_changelist"))
    assert "active" in changelist.content.decode()
    change = admin_client.get(reverse("admin:stories_previewlink_change", args=[link.pk]))
    assert f"/p/{link.token}/" in change.content.decode()


def test_unknown_preview_kinds_are_404s(client, editor):
    client.force_login(editor)
    assert client.get("/preview/user/1/").status_code == 404
    assert user_in("Editors", username="e2").has_perm("stories.add_previewlink")


# -- revoking one link from its own page ----------------------------------------------


def test_editor_revokes_a_link_with_the_button_on_its_page(client, editor, draft):
    link = create_share_link(editor, draft)
    page_url = reverse("admin:stories_previewlink_change", args=[link.pk])
    revoke_url = reverse("admin:stories_previewlink_revoke", args=[link.pk])
    client.force_login(editor)
    page = client.get(page_url).content.decode()
    assert f'action="{revoke_url}"' in page and ">Revoke</button>" in page

    response = client.post(revoke_url, follow=True)
    assert response.redirect_chain == [(page_url, 302)]
    assert "Revoked this link; it no longer opens anything." in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert ">Revoke</button>" not in response.content.decode()  # nothing left to revoke
    assert Client().get(f"/p/{link.token}/").status_code == 404


def test_revoking_a_revoked_link_again_keeps_when_it_was_revoked(client, editor, draft):
    link = create_share_link(editor, draft)
    client.force_login(editor)
    revoke_url = reverse("admin:stories_previewlink_revoke", args=[link.pk])
    client.post(revoke_url)
    link.refresh_from_db()
    first = link.revoked_at
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        response = client.post(revoke_url, follow=True)
    assert "This link was already revoked." in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at == first


def test_the_revoke_button_needs_a_post(client, editor, draft):
    link = create_share_link(editor, draft)
    client.force_login(editor)
    response = client.get(reverse("admin:stories_previewlink_revoke", args=[link.pk]))
    assert response.status_code == 405
    link.refresh_from_db()
    assert link.revoked_at is None


@pytest.mark.parametrize("role", ["writer", "publisher"])
def test_only_those_who_may_change_links_can_revoke_one(client, request, editor, draft, role):
    link = create_share_link(editor, draft)
    client.force_login(request.getfixturevalue(role))
    response = client.post(reverse("admin:stories_previewlink_revoke", args=[link.pk]))
    assert response.status_code == 403
    link.refresh_from_db()
    assert link.revoked_at is None


def test_revoking_a_link_that_does_not_exist_is_a_404(client, editor):
    client.force_login(editor)
    response = client.post(reverse("admin:stories_previewlink_revoke", args=[12345]))
    assert response.status_code == 404


# -- withdrawn content is gone from share links too ------------------------------------


def made_up_link_page(client):
    return client.get("/p/00000000-0000-4000-8000-000000000000/")


def test_a_link_made_before_a_story_was_withdrawn_no_longer_shows_it(client, editor, publisher):
    story = approved_story(headline="Figures that did not hold up")
    link = create_share_link(editor, story)
    workflow.publish_issue_now(publisher, issue_with_stories(stories=[story]))
    assert client.get(f"/p/{link.token}/").status_code == 302  # to the public page

    workflow.withdraw_story(editor, story, "The figures did not hold up.")

    response = client.get(f"/p/{link.token}/")
    assert response.status_code == 404
    assert response.content == made_up_link_page(client).content
    assert "Figures that did not hold up" not in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at is not None  # and the admin lists it as revoked


def test_links_to_a_withdrawn_issue_and_to_the_stories_it_took_down_show_nothing(
    client, editor, publisher
):
    issue = issue_with_stories(2, headline="Sent by mistake")
    pulled, spared = issue.stories.order_by("pk")
    later = issue_with_stories(stories=[spared])
    links = [create_share_link(editor, target) for target in (issue, pulled, spared)]
    workflow.publish_issue_now(publisher, issue)
    workflow.schedule_issue(publisher, later, timezone.now() + timedelta(days=1))

    workflow.withdraw_issue(publisher, issue, "Sent by mistake.")

    issue_link, pulled_link, spared_link = (client.get(f"/p/{link.token}/") for link in links)
    assert issue_link.status_code == pulled_link.status_code == 404
    assert "Sent by mistake" not in issue_link.content.decode()
    # A story another issue is about to carry was not withdrawn: its link still works.
    assert_is_a_private_preview(spared_link)


def test_a_withdrawn_story_reworked_for_review_stays_off_links_handed_out_before(
    client, editor, publisher
):
    story = approved_story(headline="Reworked later")
    link = create_share_link(editor, story)
    issue = workflow.publish_issue_now(publisher, issue_with_stories(stories=[story]))
    workflow.withdraw_issue(publisher, issue, "Pulled whole.")
    workflow.submit_for_review(editor, story)

    assert client.get(f"/p/{link.token}/").status_code == 404
    fresh = create_share_link(editor, story)  # a new link, made on purpose, shows it
    assert "Reworked later" in client.get(f"/p/{fresh.token}/").content.decode()


@pytest.mark.parametrize("kind", ["story", "issue"])
def test_a_link_to_withdrawn_content_that_was_never_revoked_still_shows_nothing(
    client, editor, publisher, kind
):
    issue = workflow.publish_issue_now(publisher, issue_with_stories(1))
    workflow.withdraw_issue(publisher, issue, "Pulled whole.")
    target = issue if kind == "issue" else issue.stories.get()
    # As an older database or a restore might hold one.
    link = PreviewLink.objects.create(
        expires_at=timezone.now() + timedelta(days=1), **{kind: target}
    )
    assert client.get(f"/p/{link.token}/").status_code == 404


def test_no_share_link_is_made_for_withdrawn_content(client, rf, editor, publisher):
    issue = workflow.publish_issue_now(publisher, issue_with_stories(1))
    workflow.withdraw_issue(publisher, issue, "Pulled whole.")
    story = issue.stories.get()
    client.force_login(editor)

    response = client.post(
        reverse("stories:share_preview", args=["story", story.pk]), {"days": "7"}, follow=True
    )

    assert not PreviewLink.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        "This story was withdrawn, and a share link never shows withdrawn content."
    ]
    request = rf.get("/")
    request.user = editor
    tools = render_to_string(
        "admin/stories/_preview_tools.html", {"original": story, "request": request}
    )
    assert "Preview" in tools and "Create share link" not in tools


# -- the admin lists, shows and revokes links; nothing else --------------------------------


@pytest.fixture
def link_admin(request, admin_user, editor):
    """The two roles that may open the share-link admin: a superuser and an editor."""
    return {"superuser": admin_user, "editor": editor}


@pytest.mark.parametrize("role", ["superuser", "editor"])
def test_nobody_adds_a_share_link_in_the_admin(client, link_admin, draft, role):
    client.force_login(link_admin[role])
    add_url = reverse("admin:stories_previewlink_add")
    forged = {"story": draft.pk, "expires_at_0": "2099-12-31", "expires_at_1": "23:59"}

    assert client.get(add_url).status_code == 403
    assert client.post(add_url, forged).status_code == 403
    assert not PreviewLink.objects.exists()
    changelist = client.get(reverse("admin:stories_previewlink_changelist")).content.decode()
    assert add_url not in changelist


@pytest.mark.parametrize("role", ["superuser", "editor"])
@pytest.mark.parametrize("state", ["active", "expired", "revoked"])
def test_the_admin_changes_no_expiry_target_or_revocation_of_a_link(
    client, link_admin, editor, draft, role, state
):
    link = create_share_link(editor, draft, days=1)
    if state == "revoked":
        PreviewLink.objects.filter(pk=link.pk).revoke()
    other = StoryFactory(headline="Someone else's draft")
    before = PreviewLink.objects.values().get(pk=link.pk)
    client.force_login(link_admin[role])
    change_url = reverse("admin:stories_previewlink_change", args=[link.pk])
    forged = {
        "story": other.pk,
        "expires_at_0": "2099-12-31",
        "expires_at_1": "23:59",
        "revoked_at_0": "",
        "revoked_at_1": "",
        "token": "00000000-0000-4000-8000-000000000000",
    }

    with time_machine.travel(timezone.now() + timedelta(days=2 if state == "expired" else 0)):
        page = client.get(change_url)
        response = client.post(change_url, forged)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="_save"' not in html and 'name="expires_at_0"' not in html
    assert 'name="story"' not in html and 'name="issue"' not in html
    assert response.status_code == 403
    assert PreviewLink.objects.values().get(pk=link.pk) == before


@pytest.mark.parametrize("role", ["superuser", "editor"])
def test_nobody_deletes_a_share_link_in_the_admin(client, link_admin, editor, draft, role):
    link = create_share_link(editor, draft)
    client.force_login(link_admin[role])

    delete = client.post(
        reverse("admin:stories_previewlink_delete", args=[link.pk]), {"post": "yes"}
    )
    client.post(
        reverse("admin:stories_previewlink_changelist"),
        {"action": "delete_selected", "_selected_action": [link.pk], "post": "yes"},
    )

    assert delete.status_code == 403
    assert PreviewLink.objects.filter(pk=link.pk).exists()


@pytest.mark.parametrize("role", ["superuser", "editor"])
def test_the_links_own_page_offers_only_revoke_and_revoking_works(
    client, link_admin, editor, draft, role
):
    link = create_share_link(editor, draft)
    client.force_login(link_admin[role])
    page = client.get(reverse("admin:stories_previewlink_change", args=[link.pk]))
    html = page.content.decode()
    assert ">Revoke</button>" in html and f"/p/{link.token}/" in html
    assert reverse("admin:stories_previewlink_delete", args=[link.pk]) not in html

    client.post(
        reverse("admin:stories_previewlink_changelist"),
        {"action": "revoke", "_selected_action": [link.pk]},
    )
    link.refresh_from_db()
    assert link.revoked_at is not None


@pytest.mark.parametrize("role", ["writer", "publisher"])
def test_roles_without_link_permissions_cannot_open_the_link_admin(
    client, request, editor, draft, role
):
    link = create_share_link(editor, draft)
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("admin:stories_previewlink_changelist")).status_code == 403
    change_url = reverse("admin:stories_previewlink_change", args=[link.pk])
    assert client.get(change_url).status_code == 403
    assert client.post(change_url, {"expires_at_0": "2099-12-31"}).status_code == 403
    assert client.post(reverse("admin:stories_previewlink_add"), {}).status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in_from_the_link_admin(client, editor, draft):
    link = create_share_link(editor, draft)
    for url in (
        reverse("admin:stories_previewlink_changelist"),
        reverse("admin:stories_previewlink_change", args=[link.pk]),
        reverse("admin:stories_previewlink_revoke", args=[link.pk]),
    ):
        response = client.post(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    link.refresh_from_db()
    assert link.revoked_at is None
