import pytest
from django.core.management import call_command

from stories.models import AuditEntry, Citation, Issue, Source, Story, Topic

pytestmark = pytest.mark.django_db


def load(capsys, monkeypatch, tmp_path, settings):
    monkeypatch.setenv("NEWSROOM_DEMO_PASSWORD", "demo-password-123")
    settings.MEDIA_ROOT = tmp_path
    call_command("load_demo")
    return capsys.readouterr().out


def snapshot():
    return [
        list(model.objects.order_by("pk").values())
        for model in (Story, Issue, Source, Topic, Citation, AuditEntry)
    ]


def test_demo_holds_the_four_pieces_and_the_pipeline(capsys, monkeypatch, tmp_path, settings):
    out = load(capsys, monkeypatch, tmp_path, settings)
    assert "Loaded the demo newsroom" in out
    published = Issue.objects.published()
    assert published.count() >= 3
    digest = published.get(number=2)
    assert digest.items.count() == 5
    assert all(i.story.why_it_matters_html.count("<li>") == 3 for i in digest.items.all())
    post = Story.objects.get(slug="ais-sputnik-moment")
    assert post.lead_image and post.lead_image_credit == "Grok | DeepSeek Satellite"
    assert post.dek == "DeepSeek shakes the US AI industry to its core"
    assert "<strong>Founder:</strong>" in post.key_points_html
    analysis = Story.objects.get(slug="deepseek-sequel-china-open-source")
    assert analysis.body_html.count("<p>") == 12
    assert analysis.citations.get().source.name == "The New York Times"
    radar = published.get(number=4)
    assert radar.items.count() == 4 and radar.closing_tldr_html
    assert "The Sequence Radar" in radar.intro_html
    assert Issue.objects.filter(status=Issue.Status.SCHEDULED).count() == 1
    assert Story.objects.count() >= 12
    assert Story.objects.filter(status=Story.Status.DRAFT).exists()
    assert Story.objects.filter(status=Story.Status.IN_REVIEW).exists()


def test_demo_creates_the_staff_accounts_with_the_given_password(
    capsys, monkeypatch, tmp_path, settings
):
    from django.contrib.auth import get_user_model

    load(capsys, monkeypatch, tmp_path, settings)
    users = get_user_model().objects.filter(username__in=["admin", "writer", "editor", "publisher"])
    assert len(users) == 4
    assert all(u.is_staff and u.check_password("demo-password-123") for u in users)
    assert {u.username: sorted(g.name for g in u.groups.all()) for u in users} == {
        "admin": [],
        "writer": ["Writers"],
        "editor": ["Editors"],
        # In a small newsroom the publisher also looks after the list.
        "publisher": ["Audience", "Publishers"],
    }


def test_demo_has_three_newsletters_and_subscribers_in_every_state(
    capsys, monkeypatch, tmp_path, settings
):
    from newsletters.models import Subscription, Suppression
    from stories.models import Newsletter

    out = load(capsys, monkeypatch, tmp_path, settings)
    assert "3 newsletters" in out
    by_issue = dict(Issue.objects.values_list("number", "newsletter__slug"))
    default = Newsletter.objects.default()
    assert by_issue == {
        1: "reels-thrills-and-bills",
        2: default.slug,
        3: default.slug,
        4: "weekly-radar",
        5: default.slug,
    }
    assert all(n.postal_address and n.sender_email for n in Newsletter.objects.all())
    states = set(Subscription.objects.values_list("state", flat=True))
    assert states == {"confirmed", "pending", "unsubscribed"}
    assert Suppression.objects.filter(reason="bounced").exists()


def test_second_run_changes_nothing_and_says_so(capsys, monkeypatch, tmp_path, settings):
    load(capsys, monkeypatch, tmp_path, settings)
    before = snapshot()
    out = load(capsys, monkeypatch, tmp_path, settings)
    assert "already loaded; nothing changed" in out
    assert snapshot() == before


def test_generated_password_is_printed_when_none_is_given(capsys, monkeypatch, tmp_path, settings):
    monkeypatch.delenv("NEWSROOM_DEMO_PASSWORD", raising=False)
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr("devtools.management.commands.load_demo.PASSWORD_FILE", tmp_path / "pw")
    call_command("load_demo")
    password = (tmp_path / "pw").read_text().strip()
    assert len(password) >= 12
    assert password in capsys.readouterr().out
