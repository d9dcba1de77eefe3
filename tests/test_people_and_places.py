"""Contributors without a staff account hold bylines; writers propose new
topics from the story form; a story names the section it runs under."""

import json

import pytest
from django.urls import reverse

from stories.models import Contributor, GuestByline, Section, Story, Topic
from stories.publishing import changes
from tests.factories import NewsletterFactory, StoryFactory, published_issue
from tests.reader_helpers import DEMO_ISSUE_URLS, load_demo_newsroom
from tests.story_admin import admin_form_data, change_url, form_as_shown, messages_of

pytestmark = pytest.mark.django_db


def columnist() -> Contributor:
    return Contributor.objects.create(
        name="Casey Columnist",
        bio="Casey writes about chips and the money behind them.",
        url="https://casey.example/",
    )


def published_story_by(contributor: Contributor) -> Story:
    issue = published_issue(1)
    story = issue.stories.get()
    GuestByline.objects.create(story=story, contributor=contributor, position=1)
    changes.story_changed(story)  # as the admin's save of the byline does
    return story


# -- contributors ---------------------------------------------------------------


def test_a_contributor_holds_a_byline_beside_the_staff_author(client):
    casey = columnist()
    story = published_story_by(casey)
    html = client.get(story.get_absolute_url()).content.decode()
    staff = story.authors.get().get_full_name() or story.authors.get().username
    assert f'{staff}</a> and <a href="/contributors/casey-columnist/" rel="author">' in html
    assert "Casey writes about chips and the money behind them." in html


def test_the_story_metadata_names_the_contributor_as_an_author(client):
    story = published_story_by(columnist())
    html = client.get(story.get_absolute_url()).content.decode()
    data = json.loads(html.split('<script type="application/ld+json">')[1].split("</script>")[0])
    article = (
        data
        if data.get("@type") == "NewsArticle"
        else next(item for item in data["@graph"] if item["@type"] == "NewsArticle")
    )
    names = [person["name"] for person in article["author"]]
    assert "Casey Columnist" in names


def test_a_contributors_page_lists_their_public_stories_with_bio_and_link(client):
    casey = columnist()
    story = published_story_by(casey)
    StoryFactory()  # a draft nobody sees
    response = client.get("/contributors/casey-columnist/")
    html = response.content.decode()
    assert response.status_code == 200
    assert story.headline in html
    assert "Casey writes about chips" in html and 'href="https://casey.example/"' in html
    assert html.count('class="story-list"') == 1


def test_an_unknown_contributor_is_a_404(client):
    assert client.get("/contributors/nobody/").status_code == 404


def test_renaming_a_contributor_in_the_admin_renames_their_bylines(client, writer):
    casey = columnist()
    story = published_story_by(casey)
    client.get(story.get_absolute_url())  # kept HTML rendered
    client.force_login(writer)  # who may edit contributors
    url = reverse("admin:stories_contributor_change", args=[casey.pk])
    assert (
        client.post(url, admin_form_data(client, url, name="Casey Q. Columnist")).status_code == 302
    )
    client.logout()
    assert "Casey Q. Columnist" in client.get(story.get_absolute_url()).content.decode()


def test_a_writer_adds_a_guest_byline_from_the_story_form(client, writer):
    casey = columnist()
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    response = client.get(change_url(story))
    data = form_as_shown(
        response,
        **{
            "guest_bylines-TOTAL_FORMS": "1",
            "guest_bylines-0-contributor": str(casey.pk),
            "guest_bylines-0-position": "1",
            "guest_bylines-0-story": str(story.pk),
        },
    )
    assert client.post(change_url(story), data).status_code == 302
    assert list(story.guest_bylines.values_list("contributor__name", flat=True)) == [
        "Casey Columnist"
    ]


def test_a_writer_may_create_a_contributor_but_not_delete_one(client, writer, editor):
    client.force_login(writer)
    response = client.post(
        reverse("admin:stories_contributor_add"),
        {"name": "Guest Author", "slug": "", "bio": "A guest.", "url": ""},
    )
    assert response.status_code == 302
    guest = Contributor.objects.get(name="Guest Author")
    assert guest.slug == "guest-author"
    assert (
        client.get(reverse("admin:stories_contributor_delete", args=[guest.pk])).status_code == 403
    )
    client.force_login(editor)
    assert (
        client.get(reverse("admin:stories_contributor_delete", args=[guest.pk])).status_code == 200
    )


def test_the_contributor_picker_answers_a_writer(client, writer):
    columnist()
    client.force_login(writer)
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "Casey",
            "app_label": "stories",
            "model_name": "guestbyline",
            "field_name": "contributor",
        },
    )
    assert response.status_code == 200
    assert [r["text"] for r in json.loads(response.content)["results"]] == ["Casey Columnist"]


# -- proposing topics -------------------------------------------------------------


def test_a_writer_proposes_new_topics_from_the_story_form(client, writer):
    Topic.objects.create(name="DeepSeek")
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    data = form_as_shown(
        client.get(change_url(story)), new_topics="deepseek, Chip export rules,  chip export rules "
    )
    response = client.post(change_url(story), data, follow=True)
    assert sorted(story.topics.names()) == ["Chip export rules", "DeepSeek"]
    assert Topic.objects.filter(name__iexact="deepseek").count() == 1
    (said,) = [m for m in messages_of(response) if "New topic" in m]
    assert "“Chip export rules”" in said and "editors can rename or merge" in said


def test_an_overlong_proposed_topic_is_refused_with_a_sentence(client, writer):
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    data = form_as_shown(client.get(change_url(story)), new_topics="x" * 150)
    response = client.post(change_url(story), data)
    assert response.status_code == 200
    (said,) = response.context["adminform"].form.errors["new_topics"]
    assert "a topic is a short name" in said


def test_a_writer_without_edit_rights_sees_no_topic_proposal(client, writer, other_writer):
    story = StoryFactory(created_by=other_writer)
    client.force_login(writer)
    response = client.get(change_url(story))
    assert response.status_code == 200
    assert "Propose new topics" not in response.content.decode()


# -- sections --------------------------------------------------------------------


def test_a_story_names_its_section_on_its_page(client, settings, tmp_path):
    load_demo_newsroom(settings, tmp_path)
    story = Story.objects.get(slug="ais-sputnik-moment")
    assert story.section.name == "Posts"
    html = client.get(story.get_absolute_url()).content.decode()
    assert '<p class="kicker">Reels, Thrills, and Bills · Posts</p>' in html
    assert '"articleSection": "Posts"' in html
    assert client.get(DEMO_ISSUE_URLS[1]).status_code == 200


def test_a_section_of_another_newsletter_is_refused_with_a_sentence(client, writer):
    reels = NewsletterFactory(name="Reels, Thrills, and Bills")
    posts = Section.objects.create(newsletter=reels, name="Posts")
    radar = NewsletterFactory(name="The Weekly Radar")
    story = StoryFactory(created_by=writer)
    client.force_login(writer)
    data = form_as_shown(
        client.get(change_url(story)), newsletter=str(radar.pk), section=str(posts.pk)
    )
    response = client.post(change_url(story), data)
    assert response.status_code == 200
    (said,) = response.context["adminform"].form.errors["section"]
    assert said.startswith("“Posts” is a section of Reels, Thrills, and Bills")
    data["newsletter"] = str(reels.pk)
    assert client.post(change_url(story), data).status_code == 302
    story.refresh_from_db()
    assert story.section == posts


def test_the_mail_edition_names_contributors_in_the_byline():
    from newsletters.mail.edition import render_edition
    from stories.models import Issue

    story = published_story_by(columnist())
    issue = Issue.objects.select_related("newsletter").get(items__story=story)
    edition = render_edition(issue)
    assert " and Casey Columnist</p>" in edition.html
    assert " and Casey Columnist\n" in edition.text


def test_a_second_contributor_of_the_same_name_gets_a_free_address(admin_client):
    """The admin fills the address from the name; a namesake is not refused."""
    from django.urls import reverse

    from stories.models import Contributor

    Contributor.objects.create(name="Mara Quintero", slug="mara-quintero")
    response = admin_client.post(
        reverse("admin:stories_contributor_add"),
        {"name": "Mara Quintero", "slug": "mara-quintero", "bio": "", "url": ""},
    )
    assert response.status_code == 302
    assert set(Contributor.objects.values_list("slug", flat=True)) == {
        "mara-quintero",
        "mara-quintero-2",
    }
