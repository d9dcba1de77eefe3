"""Signing up from a page's form: double opt-in through a real SMTP server,
one answer whatever the address, and the form's own defences."""

import html
import re
from datetime import timedelta

import hypothesis
import pytest
import time_machine
from django.core import signing
from django.utils import timezone
from hypothesis import strategies as st

from newsletters.addresses import InvalidAddress, normalize_email
from newsletters.forms import CONSENT_WORDINGS, STAMP_SALT, form_stamp
from newsletters.models import ConsentRecord, Subscriber, Subscription
from newsletters.services import suppress_address
from newsroom.security import NUL_REFUSAL
from stories.models import Newsletter
from tests.factories import NewsletterFactory, SubscriptionFactory, default_newsletter
from tests.smtp import text_of

pytestmark = pytest.mark.django_db

SIGNUP = "/subscriptions/signup/"


def home_stamp() -> str:
    """The stamp of the form offering every newsletter (the home page's)."""
    return form_stamp(list(Newsletter.objects.all()))


def post_signup(client, email, newsletters=None, ip="203.0.113.7", **extra):
    data = {
        "email": email,
        "newsletter": newsletters or [default_newsletter().slug],
        "stamp": home_stamp(),
        "source": "/newsletters/the-newsroom/",
        **extra,
    }
    return client.post(SIGNUP, data, REMOTE_ADDR=ip)


def signup(client, django_capture_on_commit_callbacks, email, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return post_signup(client, email, **kwargs)


def confirm_link(message) -> str:
    return re.search(r"http://\S+/subscriptions/confirm/\S+/", text_of(message)).group(0)


def test_a_new_address_gets_a_confirmation_mail_through_smtp_and_stays_pending(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    newsletter = default_newsletter()
    response = signup(client, django_capture_on_commit_callbacks, " Ada@Example.COM ")
    assert response.status_code == 200
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == "ada@example.com"
    assert newsletter.name in message["Subject"]
    assert message["From"] == newsletter.from_address
    assert "/subscriptions/confirm/" in confirm_link(message)
    subscription = Subscription.objects.get(subscriber__email="ada@example.com")
    assert subscription.state == Subscription.State.PENDING


def test_confirming_from_the_mailed_link_needs_the_button(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    signup(client, django_capture_on_commit_callbacks, "ada@example.com")
    link = confirm_link(smtp_inbox.wait_for(1)[0]).replace("http://127.0.0.1:8000", "")
    page = client.get(link)
    assert page.status_code == 200 and b"Confirm my subscription" in page.content
    assert Subscription.objects.get().state == "pending"
    done = client.post(link, REMOTE_ADDR="198.51.100.4")
    assert done.status_code == 200 and b"<h1>You are subscribed</h1>" in done.content
    assert b"<title>You are subscribed" in done.content  # the title follows the heading
    subscription = Subscription.objects.get()
    assert subscription.state == "confirmed" and subscription.confirmed_at is not None
    kinds = list(subscription.consents.values_list("kind", "client_ip"))
    assert kinds == [("signup", "203.0.113.7"), ("confirmation", "198.51.100.4")]


def printed_form(page: str) -> dict:
    """The hidden fields and consent words a page's signup form printed."""
    fields = dict(re.findall(r'<input type="hidden" name="(stamp|source)" value="([^"]*)"', page))
    fields["wording"] = re.search(r'<p class="signup-consent">([^<]*)</p>', page).group(1)
    return fields


def test_the_consent_record_keeps_the_words_the_form_showed_and_where(
    client, django_capture_on_commit_callbacks
):
    newsletter = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    form = printed_form(client.get(newsletter.get_absolute_url()).content.decode())
    signup(
        client,
        django_capture_on_commit_callbacks,
        "ada@example.com",
        newsletters=["weekly-radar"],
        stamp=form["stamp"],
        source=form["source"],
    )
    record = ConsentRecord.objects.get()
    assert record.kind == "signup" and record.source == newsletter.get_absolute_url()
    assert record.wording == form["wording"]
    assert record.wording == CONSENT_WORDINGS[1].format(names=newsletter.name)


def test_a_choice_among_several_records_the_words_that_listed_them_all(
    client, django_capture_on_commit_callbacks
):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    NewsletterFactory(name="Reels, Thrills, and Bills", slug="reels-thrills-and-bills")
    form = printed_form(client.get("/").content.decode())
    assert "whichever of" in form["wording"]
    signup(
        client,
        django_capture_on_commit_callbacks,
        "ada@example.com",
        newsletters=["weekly-radar"],
        stamp=form["stamp"],
        # Posted words are never read: the record holds what the form printed.
        wording="I agreed to nothing",
    )
    [record] = ConsentRecord.objects.all()
    assert record.wording == html.unescape(form["wording"])


def test_a_form_whose_newsletter_was_renamed_since_printing_asks_again(client):
    newsletter = NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    form = printed_form(client.get(newsletter.get_absolute_url()).content.decode())
    Newsletter.objects.filter(pk=newsletter.pk).update(name="The Radar")
    response = post_signup(client, "ada@example.com", ["weekly-radar"], stamp=form["stamp"])
    assert response.status_code == 400 and b"please send it again" in response.content
    assert not Subscriber.objects.exists()


def test_a_newsletter_the_form_did_not_offer_is_refused_with_a_sentence(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    stamp = form_stamp([default_newsletter()])
    response = post_signup(client, "ada@example.com", ["weekly-radar"], stamp=stamp)
    assert response.status_code == 400 and b"not one of ours" in response.content
    assert not Subscriber.objects.exists()


def test_the_choice_of_several_newsletters_ticks_none_in_advance(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    page = client.get("/").content.decode()
    assert 'name="newsletter"' in page and " checked" not in page


def test_a_form_sent_with_nothing_ticked_says_so_and_keeps_the_address(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    response = client.post(
        SIGNUP, {"email": "ada@example.com", "stamp": home_stamp(), "source": "/"}
    )
    assert response.status_code == 400
    assert b"Choose at least one newsletter" in response.content
    assert b'value="ada@example.com"' in response.content
    assert response.content.count(b'type="checkbox" name="newsletter"') == 2
    assert not Subscriber.objects.exists()


def test_a_form_sent_back_keeps_what_the_reader_ticked(client):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    response = post_signup(client, "not-an-address", ["weekly-radar"])
    assert response.status_code == 400
    assert b'value="weekly-radar" checked' in response.content
    assert b'value="%s" checked' % default_newsletter().slug.encode() not in response.content


@pytest.mark.parametrize(
    ("posted", "kept"),
    [
        ("/newsletters/the-newsroom/?utm_source=x", "/newsletters/the-newsroom/"),
        ("/", "/"),
        ("https://evil.example/", "Signup form"),
        ("//evil.example/", "Signup form"),
        ("/\\evil.example/", "Signup form"),
        ("/no-such-page/at-all/", "Signup form"),
        ("/ I agreed to everything", "Signup form"),
        ("", "Signup form"),
    ],
)
def test_the_consent_record_keeps_only_a_page_of_this_site_as_where(
    client, django_capture_on_commit_callbacks, posted, kept
):
    signup(client, django_capture_on_commit_callbacks, "ada@example.com", source=posted)
    assert ConsentRecord.objects.get().source == kept


def _answer(response) -> tuple:
    """Everything a visitor can see of an answer."""
    headers = tuple(sorted((k, v) for k, v in response.items() if k.lower() != "date"))
    return response.status_code, headers, response.content


@pytest.mark.parametrize("state", ["pending", "confirmed", "unsubscribed", "suppressed"])
def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    client, smtp_inbox, django_capture_on_commit_callbacks, state
):
    fresh = signup(client, django_capture_on_commit_callbacks, "new@example.com")
    if state == "suppressed":
        suppress_address("known@example.com", "bounced")
    else:
        SubscriptionFactory(subscriber__email="known@example.com", state=state)
    smtp_inbox.wait_for(1)
    known = signup(client, django_capture_on_commit_callbacks, "known@example.com")
    assert _answer(known) == _answer(fresh)
    # Only the mail differs: none for a suppressed address, a note for a
    # confirmed one, a fresh confirmation link otherwise.
    if state == "suppressed":
        with pytest.raises(AssertionError):
            smtp_inbox.wait_for(2, timeout=0.5)
        return
    mail = smtp_inbox.wait_for(2)[1]
    assert mail["To"] == "known@example.com"
    if state == "confirmed":
        assert "already" in mail["Subject"] and "/subscriptions/confirm/" not in text_of(mail)
    else:
        assert "/subscriptions/confirm/" in text_of(mail)
        assert Subscription.objects.get(subscriber__email="known@example.com").state == "pending"


def test_the_honeypot_and_a_forged_stamp_get_the_same_answer_and_no_mail(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    real = signup(client, django_capture_on_commit_callbacks, "real@example.com")
    smtp_inbox.wait_for(1)
    bot = signup(client, django_capture_on_commit_callbacks, "bot@example.com", website="spam")
    forged = signup(client, django_capture_on_commit_callbacks, "bot2@example.com", stamp="1.0:x")
    assert _answer(bot) == _answer(real) == _answer(forged)
    assert not Subscriber.objects.filter(email__startswith="bot").exists()
    assert len(smtp_inbox.messages) == 1


def test_a_form_printed_days_ago_asks_to_be_sent_again(client):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        old_stamp = home_stamp()
    response = post_signup(client, "ada@example.com", stamp=old_stamp)
    assert response.status_code == 400
    assert b"please send it again" in response.content
    assert b'value="ada@example.com"' in response.content  # kept for the retry
    assert not Subscriber.objects.exists()


def test_a_form_printed_before_stamps_named_its_newsletters_asks_to_be_sent_again(client):
    older = signing.Signer(salt=STAMP_SALT).sign("1.20000")
    response = post_signup(client, "ada@example.com", stamp=older)
    assert response.status_code == 400 and b"please send it again" in response.content
    assert not Subscriber.objects.exists()


def test_a_form_printed_yesterday_still_works(client):
    with time_machine.travel(timezone.now() - timedelta(hours=20)):
        stamp = home_stamp()
    assert post_signup(client, "ada@example.com", stamp=stamp).status_code == 200
    assert Subscriber.objects.filter(email="ada@example.com").exists()


@pytest.mark.parametrize(
    ("email", "sentence"),
    [
        ("", b"Enter an email address."),
        ("not-an-address", b"Enter a whole email address"),
        ("two@example.com, three@example.com", b"Enter one email address"),
        ("a@" + "x" * 300 + ".com", b"at most"),
        ("<script>@example.com", b"Enter one email address"),
        # A NUL is refused for the whole site before any view, with its sentence.
        ("ada@exa\u0000mple.com", NUL_REFUSAL.encode()),
    ],
)
def test_a_bad_address_gets_a_sentence_on_the_page(client, email, sentence):
    response = post_signup(client, email)
    assert response.status_code == 400
    assert sentence in response.content
    assert b"<script>@" not in response.content  # printed escaped
    assert not Subscriber.objects.exists()


def test_an_unknown_newsletter_or_none_gets_a_sentence(client):
    unknown = post_signup(client, "ada@example.com", newsletters=["no-such-thing"])
    assert unknown.status_code == 400 and b"not one of ours" in unknown.content
    none = client.post(SIGNUP, {"email": "ada@example.com", "stamp": home_stamp()})
    assert none.status_code == 400 and b"Choose at least one newsletter" in none.content


def test_a_get_of_the_signup_endpoint_changes_nothing(client):
    assert client.get(SIGNUP, {"email": "ada@example.com"}).status_code == 405
    assert not Subscriber.objects.exists()


def test_one_address_gets_at_most_three_confirmation_mails_an_hour(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    answers = [
        _answer(
            signup(
                client,
                django_capture_on_commit_callbacks,
                "victim@example.com",
                ip=f"198.51.100.{n}",
            )
        )
        for n in range(5)
    ]
    assert len(set(answers)) == 1  # the limit is silent: same answer
    smtp_inbox.wait_for(3)
    with pytest.raises(AssertionError):
        smtp_inbox.wait_for(4, timeout=0.5)
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        signup(client, django_capture_on_commit_callbacks, "victim@example.com")
    smtp_inbox.wait_for(4)


def test_the_hourly_limit_counts_mails_not_forms_when_several_newsletters_are_ticked(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    slugs = [NewsletterFactory(name=f"Letter {n}", slug=f"letter-{n}").slug for n in range(3)]
    for n in range(2):
        signup(
            client,
            django_capture_on_commit_callbacks,
            "victim@example.com",
            newsletters=slugs,
            ip=f"198.51.100.{n}",
        )
    smtp_inbox.wait_for(3)
    with pytest.raises(AssertionError):
        smtp_inbox.wait_for(4, timeout=0.5)
    # The newsletters past the limit were left as they were: no pending row
    # waits for a confirmation mail that never went.
    assert Subscription.objects.filter(subscriber__email="victim@example.com").count() == 3


def test_one_client_address_is_limited_to_twenty_signups_an_hour(client):
    for n in range(20):
        assert post_signup(client, f"reader{n}@example.com").status_code == 200
    refused = post_signup(client, "reader21@example.com")
    assert refused.status_code == 429
    assert b"Too many signups have come from your network" in refused.content
    assert not Subscriber.objects.filter(email="reader21@example.com").exists()
    # Another client is not held back.
    assert post_signup(client, "other@example.com", ip="192.0.2.55").status_code == 200


def test_the_home_form_subscribes_to_each_newsletter_ticked(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    NewsletterFactory(name="The Weekly Radar", slug="weekly-radar")
    NewsletterFactory(name="Reels, Thrills, and Bills", slug="reels-thrills-and-bills")
    signup(
        client,
        django_capture_on_commit_callbacks,
        "ada@example.com",
        newsletters=["weekly-radar", "reels-thrills-and-bills"],
    )
    subjects = sorted(m["Subject"] for m in smtp_inbox.wait_for(2))
    assert subjects == [
        "Confirm your subscription to Reels, Thrills, and Bills",
        "Confirm your subscription to The Weekly Radar",
    ]
    assert Subscription.objects.filter(state="pending").count() == 2


def test_a_confirmation_queued_before_an_unsubscribe_is_not_sent(
    client, smtp_inbox, django_capture_on_commit_callbacks
):
    from newsletters.tasks import send_subscription_mail

    subscription = SubscriptionFactory(state="unsubscribed")
    assert send_subscription_mail.call(subscription.pk, "confirm") == "state changed"
    assert smtp_inbox.messages == []


@hypothesis.settings(
    max_examples=300, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
@hypothesis.given(st.text(max_size=300) | st.emails())
def test_any_text_is_either_an_address_or_a_sentence_saying_why_not(value):
    try:
        address = normalize_email(value)
    except InvalidAddress as problem:
        assert str(problem).endswith(".")
    else:
        assert address == address.strip().lower() and "@" in address
        assert normalize_email(address) == address  # normalising twice changes nothing
