"""One subscriber's copy of an issue's mail, with the headers mailbox
providers ask of bulk senders (RFC 2369 List-* headers, RFC 8058 one-click
unsubscribe, RFC 2919 List-Id) and a Message-ID that is the same however
many times the copy is built, so a copy sent twice reads as one."""

from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from newsletters.links import link_url, make_token
from newsletters.mail.edition import Edition, mail_domain


@dataclass(frozen=True)
class SubscriberLinks:
    """What one subscriber's copy carries of its own."""

    subscriber_id: int
    email: str
    preferences_url: str
    unsubscribe_url: str
    one_click_url: str
    # The signed unsubscribe token the mailto: carries (the one-click link's);
    # a copy without one (a preview, a test) offers no mailto.
    unsubscribe_token: str = ""


def subscriber_links(subscriber, issue) -> SubscriberLinks:
    """The signed links (newsletters.links) for subscriber's copy of issue."""
    newsletter_id = issue.newsletter_id
    token = make_token(subscriber, newsletter_id, "unsubscribe", issue.pk)
    return SubscriberLinks(
        subscriber_id=subscriber.pk,
        email=subscriber.email,
        preferences_url=link_url(subscriber, newsletter_id, "preferences", issue.pk),
        unsubscribe_url=link_url(subscriber, newsletter_id, "unsubscribe", issue.pk),
        one_click_url=settings.SITE_URL + reverse("newsletters:one_click", args=[token]),
        unsubscribe_token=token,
    )


def message_id(issue, subscriber_id: int) -> str:
    """The same for every build of one subscriber's copy of issue."""
    return f"<issue-{issue.pk}.{subscriber_id}@{mail_domain(issue.newsletter)}>"


def list_id(newsletter) -> str:
    """RFC 2919: the newsletter's name, then an id that never changes with it."""
    name = newsletter.name.replace("<", "").replace(">", "").replace('"', "")
    return f'"{name}" <{newsletter.slug}.{mail_domain(newsletter)}>'


# What the mailto's subject starts with; the signed token follows it.
MAILTO_SUBJECT = "unsubscribe"


def unsubscribe_address(newsletter) -> str:
    """The mailbox the mailto: names, routed to the provider's inbound webhook."""
    configured = getattr(settings, "NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS", "")
    if configured:
        return parseaddr(configured)[1]
    return newsletter.reply_to or newsletter.sender_email


def unsubscribe_mailto(newsletter, token: str) -> str:
    """The mailto: half of List-Unsubscribe, for clients that cannot POST: a
    mail whose subject carries the copy's signed unsubscribe token (the one
    the one-click link carries), which newsletters/delivery/inbound.py reads.
    The token's characters (URL-safe base64 and colons) need no escaping."""
    return f"mailto:{unsubscribe_address(newsletter)}?subject={MAILTO_SUBJECT}%20{token}"


def edition_message(
    issue, edition: Edition, links: SubscriberLinks, connection=None
) -> EmailMultiAlternatives:
    """Subscriber's copy of issue (its newsletter loaded), from edition,
    rendered once for all of them (newsletters.mail.edition.render_edition)."""
    newsletter = issue.newsletter
    html, text = edition.personalise(links.preferences_url, links.unsubscribe_url)
    message = EmailMultiAlternatives(
        subject=edition.subject,
        body=text,
        from_email=newsletter.from_address,
        to=[links.email],
        reply_to=[newsletter.reply_to or newsletter.sender_email],
        headers={
            "Message-ID": message_id(issue, links.subscriber_id),
            "List-Id": list_id(newsletter),
            "List-Unsubscribe": f"<{links.one_click_url}>"
            + (
                f", <{unsubscribe_mailto(newsletter, links.unsubscribe_token)}>"
                if links.unsubscribe_token
                else ""
            ),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Archive": f"<{edition.web_url}>",
            "Precedence": "bulk",
        },
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message
