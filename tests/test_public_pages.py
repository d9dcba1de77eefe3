import pytest
from django.urls import reverse

from stories import workflow
from tests.factories import StoryFactory, published_issue, scheduled_issue, user_in

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
    assert client.get(f"/issues/{issue.number}/").status_code == 200
    response = client.get(f"/issues/{issue.number}/any-old-slug/")
    assert response.status_code == 301 and response["Location"] == f"/issues/{issue.number}/"


def test_story_permalink(client):
    story = published_issue(1).stories.get()
    response = client.get(reverse("stories:story", args=[story.slug]))
    assert response.status_code == 200
    assert story.headline in response.content.decode()


def test_unpublished_content_is_a_plain_404(client):
    draft = StoryFactory(headline="Secret draft headline")
    scheduled = scheduled_issue(1, headline="Secret scheduled issue")
    assert client.get(f"/stories/{draft.slug}/").status_code == 404
    assert client.get(f"/issues/{scheduled.number}/").status_code == 404
    assert client.get(f"/stories/{scheduled.stories.get().slug}/").status_code == 404
    home = client.get("/").content.decode()
    assert "Secret" not in home


def test_withdrawn_story_disappears_from_its_issue_page(client):
    issue = published_issue(2)
    pulled = issue.stories.first()
    workflow.withdraw_story(user_in("Editors", username="e"), pulled, "Wrong figures.")
    body = client.get(f"/issues/{issue.number}/").content.decode()
    assert pulled.headline not in body
    assert client.get(f"/stories/{pulled.slug}/").status_code == 404


@pytest.mark.parametrize("name", ["智谱", "<<>>", "Ökonomie"])
def test_topics_named_in_any_script_or_in_symbols_have_working_pages(client, name):
    story = published_issue(1).stories.get()
    story.topics.add(name)
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
