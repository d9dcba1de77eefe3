"""The Content-Security-Policy holds in a real browser: Chromium reports no
violation on the public pages or the admin, and it does block inline script."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from stories.models import Issue, Newsletter, Source, Story, Topic
from tests.factories import ensure_editorial_groups

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-password-for-csp"

# Records every violation the page reports, from before any of its own scripts run.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""


@pytest.fixture
def demo(monkeypatch, settings, tmp_path):
    # Transactional tests flush the database, editorial groups included.
    ensure_editorial_groups()
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", PASSWORD)
    call_command("load_demo", stdout=io.StringIO())


@pytest.fixture
def watched(page):
    """The page, and a function listing the CSP violations seen so far."""
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(LISTEN)

    def violations():
        try:
            in_page = page.evaluate("window.__cspViolations || []")
        except Exception:  # the page is mid-navigation
            in_page = []
        return console + in_page

    return page, violations


def visit(page, violations, url, seen):
    response = page.goto(url)
    assert response.status < 400, f"{url} answered {response.status}"
    assert response.headers.get("content-security-policy"), f"{url} has no policy"
    page.wait_for_load_state("networkidle")
    found = violations()
    seen.extend(f"{url}: {v}" for v in found if f"{url}: {v}" not in seen)


def test_public_pages_raise_no_policy_violations(live_server, watched, demo):
    page, violations = watched
    base = live_server.url
    # The listings and discovery pages, with a search that has results,
    # highlighted snippets and a filter chip, and an open filter form.
    urls = ["/", "/issues/", "/issues/?topic=deepseek&sort=oldest", "/topics/", "/sources/"]
    urls += ["/newsletters/"] + [n.get_absolute_url() for n in Newsletter.objects.all()]
    urls += ["/search/?q=distillation&topic=training-efficiency", "/search/?q=deepseek*"]
    authors = get_user_model().objects.filter(stories__in=Story.objects.published()).distinct()
    urls += [f"/authors/{author.username}/" for author in authors]
    urls += [i.get_absolute_url() for i in Issue.objects.published()]
    urls += [s.get_absolute_url() for s in Story.objects.published()]
    urls += [t.get_absolute_url() for t in Topic.objects.filter(tagged_stories__isnull=False)[:3]]
    urls += [s.get_absolute_url() for s in Source.objects.all()[:3]]
    seen = []
    for url in dict.fromkeys(urls):
        visit(page, violations, base + url, seen)
    assert seen == []
    assert any(url.startswith("/authors/") for url in urls)


def test_admin_pages_raise_no_policy_violations(live_server, watched, demo):
    page, violations = watched
    base = live_server.url
    seen = []
    visit(page, violations, base + "/admin/login/", seen)
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/admin/")
    story = Story.objects.get(slug="ais-sputnik-moment")
    issue = Issue.objects.order_by("number").first()
    user = get_user_model().objects.get(username="writer")
    urls = [
        "/admin/",
        "/admin/stories/story/",
        "/admin/stories/story/?status__exact=draft",
        "/admin/stories/story/add/",
        f"/admin/stories/story/{story.pk}/change/",
        f"/admin/stories/story/{story.pk}/history/",
        "/admin/stories/issue/",
        "/admin/stories/issue/add/",
        f"/admin/stories/issue/{issue.pk}/change/",
        "/admin/stories/source/",
        "/admin/stories/source/add/",
        "/admin/stories/topic/",
        "/admin/stories/correction/add/",
        "/admin/stories/auditentry/",
        "/admin/stories/previewlink/",
        "/admin/auth/user/",
        f"/admin/auth/user/{user.pk}/change/",
        f"/admin/auth/user/{user.pk}/password/",
        "/admin/auth/group/",
        # The audience admin: the chart of confirmed subscribers is an SVG.
        "/admin/stories/newsletter/",
        f"/admin/stories/newsletter/{Newsletter.objects.default().pk}/change/",
        "/admin/newsletters/subscription/",
        "/admin/newsletters/subscriber/",
        "/admin/newsletters/subscriberimport/add/",
    ]
    for url in urls:
        visit(page, violations, base + url, seen)
    # Widgets that build their markup with JavaScript: the calendar and clock,
    # the related-object popup links, the changelist's select-all action bar.
    page.goto(base + "/admin/stories/correction/add/")
    page.fill("#id_created_at_0", "")
    triggers = page.locator(".datetimeshortcuts a").all()
    assert len(triggers) >= 4  # "Today", calendar, "Now", clock for each field
    for trigger in triggers:
        trigger.click()
    assert page.input_value("#id_created_at_0")  # "Today" filled it in: the script ran
    page.goto(base + "/admin/stories/story/")
    page.locator("#action-toggle").check()
    assert (
        page.locator(".action-counter")
        .inner_text()
        .startswith(f"{Story.objects.count()} of {Story.objects.count()} selected")
    )
    page.wait_for_load_state("networkidle")
    seen.extend(violations())
    assert seen == []


def test_lockout_page_raises_no_policy_violations(live_server, watched, demo, settings):
    page, violations = watched
    seen = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", "editor")
        page.fill("#id_password", "not the password")
        page.click("input[type=submit]")
    assert page.locator("#content-main .errornote").inner_text() == (
        "Too many failed sign-ins: this account is locked for now."
    )
    seen.extend(violations())
    assert seen == []


def test_the_policy_blocks_inline_script_and_the_listener_sees_it(live_server, watched, demo):
    # Proves the checks above can fail: an injected inline script is refused
    # and reported through the same channels they watch.
    page, violations = watched
    page.goto(live_server.url + "/")
    ran = page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__injected = true";
          document.body.append(s);
          return window.__injected === true;
        }"""
    )
    page.wait_for_timeout(100)
    assert ran is False
    assert any("script-src" in v for v in violations())
