"""The mails a signup causes: the confirmation link, or a note that the
address is already subscribed (so a known address gets a mail too and a
form cannot tell who subscribes)."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from newsletters.links import link_url

SUBJECTS = {
    "confirm": "Confirm your subscription to {name}",
    "already": "You already get {name}",
}


def subscription_mail(subscription, kind: str, connection=None) -> EmailMultiAlternatives:
    """The mail of kind ("confirm" or "already") for subscription, ready to send."""
    if kind not in SUBJECTS:
        raise ValueError(f"No subscription mail is called {kind!r}.")
    subscriber, newsletter = subscription.subscriber, subscription.newsletter
    context = {
        "newsletter": newsletter,
        "subscriber": subscriber,
        "confirm_url": link_url(subscriber, newsletter.pk, "confirm") if kind == "confirm" else "",
        "preferences_url": link_url(subscriber, newsletter.pk, "preferences"),
    }
    message = EmailMultiAlternatives(
        subject=SUBJECTS[kind].format(name=newsletter.name),
        body=render_to_string(f"newsletters/mail/{kind}.txt", context),
        from_email=newsletter.from_address,
        to=[subscriber.email],
        reply_to=[newsletter.reply_to] if newsletter.reply_to else None,
        # A reply to a robot's mail, or an out-of-office, should not answer it.
        headers={"Auto-Submitted": "auto-generated"},
        connection=connection,
    )
    message.attach_alternative(
        render_to_string(f"newsletters/mail/{kind}.html", context), "text/html"
    )
    return message
