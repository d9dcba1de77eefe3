"""Signed links in mail: confirm, unsubscribe, preferences.

Each link carries the subscriber's id and link key, the newsletter's id and,
optionally, the issue whose mail it came from, signed with the site's secret
and a salt per purpose (so a confirmation link can never unsubscribe, nor an
unsubscribe link confirm) and stamped with the time it was made. Links only
open a page with a button; the POST changes things (newsletters/views).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

PURPOSES = {
    # Long enough for a weekend away from the inbox.
    "confirm": timedelta(days=7),
    # Every mail carries these; unsubscribing must work for long after (the
    # law says at least 30 days from the send), so they last a year and a
    # fresh copy comes with each mail.
    "unsubscribe": timedelta(days=400),
    "preferences": timedelta(days=400),
}


class BadLink(Exception):
    """A link that was altered, has expired, or names someone no longer here,
    with a sentence for the page that says so."""

    def __init__(self, message: str, expired: bool = False, gone: bool = False):
        super().__init__(message)
        self.expired = expired
        self.gone = gone


@dataclass(frozen=True)
class LinkTarget:
    subscriber_id: int
    link_key: str
    newsletter_id: int
    issue_id: int | None
    purpose: str


def _salt(purpose: str) -> str:
    return f"newsletters.links.{purpose}"


def make_token(subscriber, newsletter_id: int, purpose: str, issue_id: int | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"No link purpose is called {purpose!r}.")
    payload = {"s": subscriber.pk, "k": subscriber.link_key, "n": newsletter_id}
    if issue_id is not None:
        payload["i"] = issue_id
    return signing.dumps(payload, salt=_salt(purpose))


def read_token(token: str, purpose: str) -> LinkTarget:
    """What token points at, or BadLink."""
    try:
        payload = signing.loads(token, salt=_salt(purpose), max_age=PURPOSES[purpose])
    except signing.SignatureExpired:
        raise BadLink("This link has expired.", expired=True) from None
    except signing.BadSignature:
        raise BadLink("This link is not valid: it may have been cut short or changed.") from None
    try:
        return LinkTarget(
            subscriber_id=int(payload["s"]),
            link_key=str(payload["k"]),
            newsletter_id=int(payload["n"]),
            issue_id=int(payload["i"]) if payload.get("i") is not None else None,
            purpose=purpose,
        )
    except (KeyError, TypeError, ValueError):
        raise BadLink("This link is not valid: it may have been cut short or changed.") from None


def link_url(subscriber, newsletter_id: int, purpose: str, issue_id: int | None = None) -> str:
    """The absolute address of a signed link, for mail."""
    token = make_token(subscriber, newsletter_id, purpose, issue_id)
    return settings.SITE_URL + reverse(f"newsletters:{purpose}", args=[token])


def one_click_url(subscriber, newsletter_id: int, issue_id: int | None = None) -> str:
    """Where List-Unsubscribe points: RFC 8058's one-click POST endpoint."""
    token = make_token(subscriber, newsletter_id, "unsubscribe", issue_id)
    return settings.SITE_URL + reverse("newsletters:one_click", args=[token])
