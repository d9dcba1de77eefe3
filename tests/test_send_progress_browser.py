"""The send's progress panel in Chromium: it follows the send by itself under
the admin's Content-Security-Policy, reloads when the send changes state,
and has no serious accessibility problem."""

from importlib import resources

import pytest
from playwright.sync_api import expect

from newsletters.delivery import sending
from newsletters.models import Send
from tests.factories import user_in
from tests.send_helpers import hand_over, live_send, mailing_newsletter

# Tasks wait as rows (no worker runs here), so the test plays the workers.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.database_tasks,
]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's
BLOCKING = {"serious", "critical"}


@pytest.fixture
def sending_issue():
    publisher = user_in("Publishers", username="pia")
    send = live_send(mailing_newsletter(), readers=10)
    hand_over(send, sent=3)
    return publisher, send


def signed_in(browser, live_server, username: str, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + "/admin/")
    return context, page


def test_the_progress_panel_follows_the_send_and_reloads_when_it_pauses(
    browser, live_server, sending_issue
):
    publisher, send = sending_issue
    context, page = signed_in(browser, live_server, "pia")
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        page.goto(f"{live_server.url}/admin/stories/issue/{send.issue.pk}/change/")
        bar = page.locator("progress#mail-progress-bar")
        assert bar.get_attribute("max") == "10" and bar.get_attribute("value") == "3"
        assert page.get_by_label("3 of 10 done").count() == 1

        hand_over(send, sent=4)  # workers hand over four more
        # Waited for through the page's own DOM: the policy forbids eval.
        expect(page.locator('[data-field="sent"]')).to_have_text("7", timeout=15_000)
        assert bar.evaluate("(element) => element.value") == 7
        assert page.locator('[data-field="queued"]').inner_text() == "3"
        assert page.locator(".mail-progress-label").inner_text() == "7 of 10 done"

        sending.pause_send(publisher, Send.objects.get(pk=send.pk))
        page.get_by_role("button", name="Resume sending").wait_for(timeout=15_000)
        assert page.get_by_role("button", name="Pause sending").count() == 0
        assert violations == []
    finally:
        context.close()


def test_the_mail_panel_has_no_serious_accessibility_problem(browser, live_server, sending_issue):
    _, send = sending_issue
    hand_over(send, refused=2)
    axe = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()
    # bypass_csp: axe is injected as a script, which the admin's policy forbids.
    context, page = signed_in(browser, live_server, "pia", bypass_csp=True)
    try:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(f"{live_server.url}/admin/stories/issue/{send.issue.pk}/change/")
            page.add_script_tag(content=axe)
            result = page.evaluate(
                """async () => await axe.run(document.getElementById("mail"), {
                    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a",
                                                    "wcag21aa", "best-practice"]}
                })"""
            )
            serious = [
                (v["id"], [n["html"][:120] for n in v["nodes"]])
                for v in result["violations"]
                if v["impact"] in BLOCKING
            ]
            assert serious == [], f"{scheme}: {serious}"
    finally:
        context.close()
