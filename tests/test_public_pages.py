import pytest
from django.urls import reverse

from stories.editorial import workflow
from tests.factories import (
    IssueFactory,
    StoryFactory,
    approved_story,
    published_issue,
    scheduled_issue,
    user_in,
)

pytestmark = pytest.mark.django_db


def test_home_shows_the_latest_published_issue_with_its_stories(client):
    published_issue(1, headline="Older issue")
    latest = published_issue(3, headline="Latest issue")
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Latest issue" in body
    for story in latest.stories.all():
        assert story.headline in body


def test_home_without_issues_says_so(client):
    assert "No issue has been published yet" in client.get("/").content.decode()


def test_issue_page_by_number_and_slug_redirect(client):
    issue = published_issue(2)
    assert client.get(issue.get_absolute_url()).status_code == 200
    response = client.get(f"{issue.get_absolute_url()}any-old-slug/")
    assert response.status_code == 301 and response["Location"] == issue.get_absolute_url()


def test_story_permalink(client):
    story = published_issue(1).stories.get()
    response = client.get(reverse("stories:story", args=[story.slug]))
    assert response.status_code == 200
    assert story.headline in response.content.decode()


def test_unpublished_content_is_a_plain_404(client):
    draft = StoryFactory(headline="Secret draft headline")
    scheduled = scheduled_issue(1, headline="Secret scheduled issue")
    assert client.get(f"/stories/{draft.slug}/").status_code == 404
    assert client.get(scheduled.get_absolute_url()).status_code == 404
    assert client.get(f"/stories/{scheduled.stories.get().slug}/").status_code == 404
    home = client.get("/").content.decode()
    assert "Secret" not in home


def test_withdrawn_story_disappears_from_its_issue_page(client):
    issue = published_issue(2)
    pulled = issue.stories.first()
    workflow.withdraw_story(user_in("Editors", username="e"), pulled, "Wrong figures.")
    body = client.get(issue.get_absolute_url()).content.decode()
    assert pulled.headline not in body
    assert client.get(f"/stories/{pulled.slug}/").status_code == 404


@pytest.mark.parametrize("name", ["智谱", "<<>>", "Ökonomie"])
def test_topics_named_in_any_script_or_in_symbols_have_working_pages(client, name):
    story = approved_story()
    story.topics.add(name)
    published_issue(stories=[story])
    topic = story.topics.get()
    assert topic.slug
    for url in [
        story.get_absolute_url(),
        topic.get_absolute_url(),
        "/topics/",
        f"/feeds/topics/{topic.slug}.rss",
        "/sitemap-topics.xml",
    ]:
        assert client.get(url).status_code == 200, url


def test_a_control_character_in_a_topic_address_is_not_found(client):
    for url in ["/topics/%00/", "/topics/a%01b/", "/feeds/topics/%00.rss"]:
        assert client.get(url).status_code == 404, url


def _draft_only_things() -> dict[str, str]:
    """Addresses of a topic, source, author, story and issue that exist but
    hold nothing public: only a draft story carries them."""
    draft = StoryFactory(headline="Leak draft", created_by=user_in("Writers", username="ghost"))
    draft.topics.add("Secret topic")
    topic = draft.topics.get()
    draft_issue = IssueFactory(number=77, headline="Leak draft issue")
    draft_issue.items.create(story=draft, position=1)
    return {
        "topic": f"/topics/{topic.slug}/",
        "topic, older stories": f"/topics/{topic.slug}/?before=2025-01-01T00:00:00Z,1",
        "topic feed": f"/feeds/topics/{topic.slug}.rss",
        "source": f"/sources/{draft.citations.get().source.slug}/",
        "author": "/authors/ghost/",
        "story": f"/stories/{draft.slug}/",
        "issue": draft_issue.get_absolute_url(),
    }


MISSING = {
    "topic": "/topics/no-such-thing/",
    "topic, older stories": "/topics/no-such-thing/?before=2025-01-01T00:00:00Z,1",
    "topic feed": "/feeds/topics/no-such-thing.rss",
    "source": "/sources/no-such-thing/",
    "author": "/authors/no-such-thing/",
    "story": "/stories/no-such-thing/",
    "issue": "/newsletters/the-newsroom/issues/78/",
}


def test_debug_404_pages_do_not_tell_a_draft_only_address_from_a_missing_one(client, settings):
    # DEBUG error pages (DJANGO_DEBUG=true make run) print the 404's message:
    # it must be the same whether a draft holds the address or nothing does.
    settings.DEBUG = True
    published_issue(1)  # something public exists, so listings are not empty
    for kind, existing in _draft_only_things().items():
        bodies = []
        for url in (existing, MISSING[kind]):
            response = client.get(url)
            assert response.status_code == 404, url
            path = url.split("?")[0]
            bodies.append(response.content.decode().replace(path, "PATH").replace(path[1:], "PATH"))
        assert "Leak" not in bodies[0] and "ghost" not in bodies[0], kind
        assert bodies[0] == bodies[1], kind


def test_every_public_404_carries_the_same_message(client, settings):
    settings.DEBUG = True
    html = client.get("/sources/no-such-thing/").content.decode()
    assert "Nothing public at this address." in html
    assert "matches the given query" not in html
