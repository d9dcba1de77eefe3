"""Every public page type is valid HTML by the Nu HTML Checker (vnu.jar, the
W3C validator's engine), run once over the pages the test client renders.

vnu.jar comes from the npm registry (package.json: `npm install` puts it in
node_modules/, `make test` does so) or from NEWSROOM_VNU_JAR; it needs Java
17 or later. Without Java the module is skipped, saying so; without the jar
it fails with what to run, since a check that silently did not run would
read as a pass.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from newsletters.links import make_token
from stories.models import Contributor, GuestByline, Story
from stories.publishing import changes
from tests.factories import SubscriptionFactory
from tests.process_helpers import ROOT
from tests.reader_helpers import DEMO_ISSUE_URLS, load_demo_newsroom

pytestmark = pytest.mark.django_db

JAR = Path(
    os.environ.get("NEWSROOM_VNU_JAR")
    or ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)


def nu_checker() -> list[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip(
            "Java is not installed, so the Nu HTML Checker cannot run "
            "(apt-get install default-jre-headless)."
        )
    if not JAR.is_file():
        pytest.fail(
            f"The Nu HTML Checker is missing at {JAR}: run `npm install` (package.json) "
            "or set NEWSROOM_VNU_JAR."
        )
    return [java, "-Xss8m", "-jar", str(JAR)]


@pytest.fixture
def newsroom(settings, tmp_path):
    """The demo newsroom (the four pieces in their formats), a contributor's
    byline and a reader's subscription: something on every page type."""
    load_demo_newsroom(settings, tmp_path / "media")
    story = Story.objects.published().get(slug="ais-sputnik-moment")
    casey = Contributor.objects.create(
        name="Casey Columnist", bio="Writes on chips.", url="https://casey.example/"
    )
    GuestByline.objects.create(story=story, contributor=casey)
    changes.story_changed(story)  # as the story's admin form does after its bylines
    subscription = SubscriptionFactory(state="confirmed")
    return {"subscription": subscription}


def public_pages(newsroom) -> dict[str, int]:
    """Every public page type, with the status it answers."""
    subscription = newsroom["subscription"]
    token = make_token(subscription.subscriber, subscription.newsletter_id, "preferences")
    return {
        "/": 200,
        DEMO_ISSUE_URLS[1]: 200,  # a post
        DEMO_ISSUE_URLS[2]: 200,  # a numbered digest
        DEMO_ISSUE_URLS[3]: 200,  # a post holding the sourced analysis
        DEMO_ISSUE_URLS[4]: 200,  # an essay
        "/stories/ais-sputnik-moment/": 200,  # lead image, key points, guest byline
        "/stories/deepseek-sequel-china-open-source/": 200,
        "/issues/": 200,
        "/newsletters/": 200,
        "/newsletters/weekly-radar/": 200,
        "/topics/": 200,
        "/topics/deepseek/": 200,
        "/sources/": 200,
        "/sources/the-new-york-times/": 200,
        "/authors/writer/": 200,
        "/contributors/casey-columnist/": 200,
        "/search/": 200,
        "/search/?q=DeepSeek": 200,
        "/search/?q=nothingmatchesthis": 200,
        reverse("newsletters:preferences", args=[token]): 200,
        "/subscriptions/confirm/not-a-token/": 400,
        "/no-such-page/": 404,
    }


def test_every_public_page_type_has_no_nu_checker_errors(client, newsroom, tmp_path):
    command = nu_checker()
    files = {}
    for n, (url, status) in enumerate(public_pages(newsroom).items()):
        response = client.get(url)
        assert response.status_code == status, url
        assert response["Content-Type"].startswith("text/html"), url
        path = tmp_path / f"page-{n}.html"
        path.write_bytes(response.content)
        files[path.as_uri().replace("file:///", "file:/")] = url

    run = subprocess.run(
        [
            *command,
            "--format",
            "json",
            "--errors-only",
            *map(str, sorted(tmp_path.glob("page-*.html"))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stderr or run.stdout)
    errors = [
        f"{files.get(m.get('url'), m.get('url'))} line {m.get('lastLine')}: {m['message']}"
        for m in report["messages"]
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert errors == [], "\n".join(errors)
    # The checker read every page (a report about no files would pass).
    assert run.returncode == 0
    assert len(files) == len(public_pages(newsroom))
