"""Assembling an issue in the admin: the next number suggested, positions
filled in, and a story picker that offers only what can go in and tells
namesakes apart."""

import json

import pytest
from django.urls import reverse

from stories.admin.issue_forms import next_issue_numbers
from stories.models import Issue
from tests.factories import (
    IssueFactory,
    NewsletterFactory,
    StoryFactory,
    approved_story,
    default_newsletter,
    published_issue,
)

pytestmark = pytest.mark.django_db


def add_form(newsletter, *stories, **fields) -> dict:
    data = {
        "newsletter": newsletter.pk,
        "format": "digest",
        "headline": "A new issue",
        "slug": "",
        "intro": "",
        "closing_tldr": "",
        "items-TOTAL_FORMS": str(len(stories)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for n, story in enumerate(stories):
        data[f"items-{n}-story"] = story.pk
        data[f"items-{n}-position"] = ""
    return data | fields


def picker(client, term=""):
    response = client.get(
        reverse("admin:autocomplete"),
        {"term": term, "app_label": "stories", "model_name": "issueitem", "field_name": "story"},
    )
    assert response.status_code == 200
    return json.loads(response.content)["results"]


def test_the_add_form_suggests_each_newsletters_next_number(client, editor):
    default = default_newsletter()
    IssueFactory(newsletter=default, number=7)
    other = NewsletterFactory()
    client.force_login(editor)
    form = client.get(reverse("admin:stories_issue_add")).context["adminform"].form
    assert form.initial["number"] == 8
    suggestions = json.loads(form.fields["number"].widget.attrs["data-next-numbers"])
    assert suggestions == {str(default.pk): 8, str(other.pk): 1}
    assert next_issue_numbers() == {default.pk: 8, other.pk: 1}


def test_an_issue_added_without_a_number_takes_its_newsletters_next(client, editor):
    other = NewsletterFactory()
    IssueFactory(newsletter=other, number=41)
    client.force_login(editor)
    response = client.post(reverse("admin:stories_issue_add"), add_form(other, number=""))
    assert response.status_code == 302
    assert Issue.objects.get(headline="A new issue").number == 42


def test_new_rows_left_unnumbered_are_saved_in_the_order_they_were_added(client, editor):
    first, second, third = (approved_story(headline=h) for h in ("First", "Second", "Third"))
    client.force_login(editor)
    response = client.post(
        reverse("admin:stories_issue_add"),
        add_form(default_newsletter(), first, second, third, number="5"),
    )
    assert response.status_code == 302
    issue = Issue.objects.get(headline="A new issue")
    assert list(issue.items.values_list("story__headline", "position")) == [
        ("First", 1),
        ("Second", 2),
        ("Third", 3),
    ]


def test_unnumbered_rows_follow_the_numbered_ones(client, editor):
    lead, added = approved_story(headline="Lead"), approved_story(headline="Added")
    client.force_login(editor)
    data = add_form(default_newsletter(), added, lead, number="6")
    data["items-1-position"] = "4"  # the lead was numbered by hand
    assert client.post(reverse("admin:stories_issue_add"), data).status_code == 302
    issue = Issue.objects.get(headline="A new issue")
    assert list(issue.items.values_list("story__headline", "position")) == [
        ("Lead", 4),
        ("Added", 5),
    ]


def test_two_rows_typed_at_the_same_position_are_still_refused(client, editor):
    a, b = approved_story(), approved_story()
    client.force_login(editor)
    data = add_form(default_newsletter(), a, b, number="9")
    data["items-0-position"] = data["items-1-position"] = "2"
    response = client.post(reverse("admin:stories_issue_add"), data)
    assert response.status_code == 200
    assert "Two stories are at position 2" in response.content.decode()


def test_a_draft_cannot_be_added_to_an_issue(client, editor):
    draft = StoryFactory(headline="Still a draft")
    client.force_login(editor)
    response = client.post(
        reverse("admin:stories_issue_add"), add_form(default_newsletter(), draft, number="3")
    )
    assert response.status_code == 200
    assert "“Still a draft” is draft; only approved stories can be added" in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert not Issue.objects.filter(headline="A new issue").exists()


def test_the_story_picker_offers_only_approved_stories(client, editor):
    approved = approved_story(headline="Ready to go")
    StoryFactory(headline="Ready draft")
    live = published_issue(1).items.get().story
    client.force_login(editor)
    offered = {result["id"] for result in picker(client)}
    assert offered == {str(approved.pk)}
    assert str(live.pk) not in offered


def test_the_story_picker_tells_namesakes_apart(client, editor):
    radar = NewsletterFactory(name="The Weekly Radar")
    one = approved_story(headline="Same headline", slug="same-headline", newsletter=radar)
    two = approved_story(headline="Same headline", slug="same-headline-2")
    client.force_login(editor)
    labels = {result["id"]: result["text"] for result in picker(client, "Same")}
    assert labels[str(one.pk)] != labels[str(two.pk)]
    assert labels[str(one.pk)].startswith("Same headline — approved ")
    assert "· The Weekly Radar · /same-headline" in labels[str(one.pk)]
    assert "· no newsletter · /same-headline-2" in labels[str(two.pk)]


def test_the_issue_form_shows_chosen_stories_as_the_picker_does(client, editor):
    story = approved_story(headline="Chosen one")
    issue = IssueFactory()
    issue.items.create(story=story, position=1)
    client.force_login(editor)
    html = client.get(reverse("admin:stories_issue_change", args=[issue.pk])).content.decode()
    assert "Chosen one — approved " in html
    assert 'src="/static/js/issue-form.js"' in html
