"""One subscriber's copy of an issue's mail, with the headers mailbox
providers ask of bulk senders (RFC 2369 List-* headers, RFC 8058 one-click
unsubscribe, RFC 2919 List-Id) and a Message-ID that is the same however
many times the copy is built, so a copy sent twice reads as one."""

from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives

from newsletters.links import link_url, one_click_url
from newsletters.mail.edition import Edition, mail_domain


@dataclass(frozen=True)
class SubscriberLinks:
    """What one subscriber's copy carries of its own."""

    subscriber_id: int
    email: str
    preferences_url: str
    unsubscribe_url: str
    one_click_url: str


def subscriber_links(subscriber, issue) -> SubscriberLinks:
    """The signed links (newsletters.links) for subscriber's copy of issue."""
    newsletter_id = issue.newsletter_id
    return SubscriberLinks(
        subscriber_id=subscriber.pk,
        email=subscriber.email,
        preferences_url=link_url(subscriber, newsletter_id, "preferences", issue.pk),
        unsubscribe_url=link_url(subscriber, newsletter_id, "unsubscribe", issue.pk),
        one_click_url=one_click_url(subscriber, newsletter_id, issue.pk),
    )


def message_id(issue, subscriber_id: int) -> str:
    """The same for every build of one subscriber's copy of issue."""
    return f"<issue-{issue.pk}.{subscriber_id}@{mail_domain(issue.newsletter)}>"


def list_id(newsletter) -> str:
    """RFC 2919: the newsletter's name, then an id that never changes with it."""
    name = newsletter.name.replace("<", "").replace(">", "").replace('"', "")
    return f'"{name}" <{newsletter.slug}.{mail_domain(newsletter)}>'


def unsubscribe_mailto(newsletter, subscriber_id: int, issue) -> str:
    """The mailto: half of List-Unsubscribe, for clients that cannot POST."""
    address = newsletter.reply_to or newsletter.sender_email
    return f"mailto:{address}?subject=unsubscribe%20{newsletter.slug}%20{subscriber_id}.{issue.pk}"


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
            "List-Unsubscribe": (
                f"<{links.one_click_url}>, "
                f"<{unsubscribe_mailto(newsletter, links.subscriber_id, issue)}>"
            ),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Archive": f"<{edition.web_url}>",
            "Precedence": "bulk",
        },
        connection=connection,
    )
    message.attach_alternative(html, "text/html")
    return message
