"""The issue's mail against what mail clients support, by caniemail's data
(doiuse-email, from the npm registry like the Nu HTML Checker: package.json,
`make test` installs it), and as a reader sees it in Chromium on a phone and
at the common 600 px mail width.

Mail is written for the clients that support least: tables for layout,
inline styles. What doiuse-email still reports is each a refinement that a
client without it simply skips, listed below with the reason; anything else
(a flexbox, a web font, a background image...) fails here, named.
"""

import json
import shutil
import subprocess

import pytest

from newsletters.mail.edition import render_edition
from stories.models import Issue
from tests.process_helpers import ROOT
from tests.test_mail_edition import demo, four_pieces, personalised  # noqa: F401 (fixture)

# The demo newsroom (the four pieces in their formats), from the edition's tests.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo")]

CHECKER = ROOT / "node_modules" / "doiuse-email" / "bin" / "cli.js"
CLIENTS = "gmail.*,outlook.*,apple-mail.*,yahoo.*,samsung-email.*,thunderbird.*"
# What clients may lack, and why the mail still reads right without it.
REFINEMENTS = {
    "@media": "dark-mode colours and the narrow-screen padding; the light, "
    "single-column mail is complete without them",
    "<body> element": "clients that replace <body> keep the wrapper table, "
    "which carries the background and width itself",
    "display:none": "hides the preheader, together with max-height, overflow, "
    "opacity and mso-hide (redundant on purpose: each client honours one)",
    "overflow": "part of the preheader's hiding (above)",
    "opacity": "part of the preheader's hiding (above)",
    "outline": "resets the outline of linked images; a client without it draws its default",
    "role attribute": 'role="presentation" tells screen readers the layout tables '
    "are not data; clients that drop it show the same mail",
}


def unsupported_features(html: str, tmp_path) -> dict[str, list[str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "Node.js is not installed, so doiuse-email cannot run (apt-get install nodejs)."
        )
    if not CHECKER.is_file():
        pytest.fail(f"doiuse-email is missing at {CHECKER}: run `npm install` (package.json).")
    page = tmp_path / "mail.html"
    page.write_text(html)
    result = subprocess.run(
        [node, str(CHECKER), f"--email-clients={CLIENTS}", str(page)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    features: dict[str, list[str]] = {}
    for error in json.loads(result.stdout).get("errors", []):
        # "`opacity` is not supported by `outlook.windows`"
        feature, client = error.split("`")[1], error.split("`")[3]
        features.setdefault(feature, []).append(client)
    return features


def editions():
    for issue in four_pieces():
        issue = Issue.objects.select_related("newsletter").get(pk=issue.pk)
        html, _ = personalised(issue, render_edition(issue))
        yield issue, html


def test_mail_uses_nothing_clients_lack_but_refinements_they_skip(tmp_path):
    checked = 0
    for issue, html in editions():
        features = unsupported_features(html, tmp_path)
        unexpected = {f: clients for f, clients in features.items() if f not in REFINEMENTS}
        assert not unexpected, f"issue #{issue.number} uses what these clients lack: {unexpected}"
        checked += 1
    assert checked >= 4


def test_the_checker_names_what_a_client_lacks(tmp_path):
    """The check above can fail: a flexbox layout is reported for Outlook."""
    features = unsupported_features(
        '<html><body><div style="display: flex">Two columns</div></body></html>', tmp_path
    )
    assert "display:flex" in features
    assert any(client.startswith("outlook") for client in features["display:flex"])


@pytest.mark.browser
@pytest.mark.parametrize("width", [375, 600])
def test_the_mail_fits_a_phone_and_the_mail_column(browser, width):
    """As a reader's client shows it: nothing wider than the screen, every
    image within it, the stories' headings there to read."""
    for issue, html in editions():
        page = browser.new_page(viewport={"width": width, "height": 800})
        try:
            page.set_content(html)
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, (issue.number, width, scroll_width)
            widest_image = page.evaluate(
                "Math.max(0, ...[...document.images].map(i => i.getBoundingClientRect().right))"
            )
            assert widest_image <= width, (issue.number, width, widest_image)
            assert page.locator("h1, h2").count() >= 1
        finally:
            page.close()
