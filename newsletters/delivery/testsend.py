"""The email as subscribers will see it, before anyone does: the preview on
the issue's admin page and test copies to the desk's own addresses.

A test copy is the subscriber's mail with four differences: its subject
says it is a test, its Message-ID is new each time (a repeated one would be
folded into the first copy by the reviewer's mail client), its preference
and unsubscribe links lead to the newsletter's public page, since the
reviewer is nobody's subscription, and it carries no List-Unsubscribe
headers: there is no subscription to end, and RFC 8058 allows the one-click
claim only with an address that accepts the POST. It goes through the configured
EMAIL_BACKEND, the path subscribers' mail takes, and the issue's audit
trail records who sent it to whom.
"""

from __future__ import annotations

import logging
import re
import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import get_connection
from django.core.validators import validate_email
from django.db.models import Prefetch

from newsletters import throttle
from newsletters.addresses import normalize_email
from newsletters.delivery.audit import record
from newsletters.mail.edition import Edition, mail_domain, mail_stories, render_edition
from newsletters.mail.message import SubscriberLinks, edition_message
from newsletters.services import is_suppressed
from stories.discovery.feeds import absolute
from stories.models import Citation, Issue, IssueItem, Story

logger = logging.getLogger(__name__)

# Addresses one test may go to: a review desk, not a mailing list.
MAX_RECIPIENTS = getattr(settings, "NEWSROOM_TEST_SEND_MAX_RECIPIENTS", 10)
# Test copies one person may send in an hour, counted per copy.
PER_HOUR = getattr(settings, "NEWSROOM_TEST_SENDS_PER_HOUR", 30)

TEST_SUBJECT_PREFIX = "[Test] "
AUDIT_ACTION = "mail_test_sent"


class SendTestError(Exception):
    """A test send that cannot go ahead, with a sentence saying why."""


def may_preview(user) -> bool:
    """Editors, who assemble issues, and publishers, who send them."""
    return user.has_perm("stories.change_issue") or user.has_perm("stories.publish_issue")


def _preview_stories(issue: Issue) -> list[Story]:
    """What the mail will carry once issue is live: before then, every story
    it holds that has not been withdrawn (those not yet approved included, so
    the desk sees the whole issue early); after, exactly what readers see."""
    if Issue.objects.published().filter(pk=issue.pk).exists():
        return mail_stories(issue)
    people = Story.authors.field.related_model.objects.only("username", "first_name", "last_name")
    items = (
        IssueItem.objects.filter(issue=issue)
        .exclude(story__status=Story.Status.WITHDRAWN)
        .select_related("story")
        .prefetch_related(
            Prefetch("story__authors", people),
            Prefetch("story__citations", Citation.objects.select_related("source")),
        )
        .order_by("position", "pk")
    )
    return [item.story for item in items]


def preview_edition(issue: Issue) -> Edition:
    """The issue's mail (its newsletter loaded), as subscribers will get it."""
    return render_edition(issue, _preview_stories(issue))


def preview_links(issue: Issue, email: str = "") -> SubscriberLinks:
    """Links for a copy nobody subscribed to: they lead to the newsletter's page."""
    page = absolute(issue.newsletter.get_absolute_url())
    return SubscriberLinks(
        subscriber_id=0,
        email=email,
        preferences_url=page,
        unsubscribe_url=page,
        one_click_url=page,
    )


def reviewer_addresses(text: str) -> list[str]:
    """The addresses in text (separated by commas, semicolons, spaces or
    lines), normalised and each once; SendTestError names any that is not an
    address, or says when there are too many."""
    found: list[str] = []
    bad: list[str] = []
    for part in re.split(r"[\s,;]+", text or ""):
        part = part.strip().strip("<>")
        if not part:
            continue
        try:
            validate_email(part)
        except ValidationError:
            bad.append(part[:80])
            continue
        address = normalize_email(part)
        if address not in found:
            found.append(address)
    if bad:
        raise SendTestError(
            "These are not email addresses: " + ", ".join(bad) + ". Correct them and send again."
        )
    if len(found) > MAX_RECIPIENTS:
        raise SendTestError(
            f"A test goes to at most {MAX_RECIPIENTS} addresses; this list has {len(found)}."
        )
    return found


def review_copy(issue: Issue, edition: Edition, address: str):
    """One test copy of issue's mail to address."""
    message = edition_message(issue, edition, preview_links(issue, address))
    message.subject = TEST_SUBJECT_PREFIX + message.subject
    message.extra_headers["Message-ID"] = make_msgid("test", domain=mail_domain(issue.newsletter))
    for header in ("List-Unsubscribe", "List-Unsubscribe-Post"):
        message.extra_headers.pop(header, None)
    return message


def _reason(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        if isinstance(reply, bytes):
            reply = reply.decode(errors="replace")
        return f"refused by the mail server ({code} {reply})"
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        return f"refused by the mail server ({error.smtp_code} {message})"
    return f"not sent ({error or type(error).__name__})"


def send_test(user, issue: Issue, addresses: list[str]) -> tuple[list[str], dict[str, str]]:
    """Send a test copy of issue's mail to each address, over one connection
    to the configured mail backend, and record in the issue's audit trail
    the addresses it went to. Returns those addresses and, for any it could
    not go to, the reason; raises SendTestError when nothing may be sent."""
    if not may_preview(user):
        raise SendTestError("Only editors and publishers may send a test of an issue's email.")
    if not addresses:
        raise SendTestError("Name at least one address to send the test to.")
    if len(addresses) > MAX_RECIPIENTS:
        raise SendTestError(f"A test goes to at most {MAX_RECIPIENTS} addresses.")
    suppressed = [address for address in addresses if is_suppressed(address)]
    if suppressed:
        raise SendTestError(
            "No mail may go to "
            + ", ".join(suppressed)
            + ": the address bounced, complained or asked to be erased. Leave it out."
        )
    for _ in addresses:
        if not throttle.hit("test-send", str(user.pk), PER_HOUR, 3600):
            raise SendTestError(
                f"You have sent {PER_HOUR} test copies in the last hour; try again later."
            )
    issue = Issue.objects.select_related("newsletter").get(pk=issue.pk)
    edition = preview_edition(issue)
    sent: list[str] = []
    failed: dict[str, str] = {}
    try:
        with get_connection() as connection:
            for address in addresses:
                try:
                    connection.send_messages([review_copy(issue, edition, address)])
                except smtplib.SMTPRecipientsRefused as error:
                    failed[address] = _reason(error)
                else:
                    sent.append(address)
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Test send of issue %s failed: %s", issue.pk, error)
        failed.update({a: _reason(error) for a in addresses if a not in sent and a not in failed})
    except Exception as error:  # a provider's API (anymail) raises its own errors
        logger.exception("Test send of issue %s failed", issue.pk)
        failed.update({a: _reason(error) for a in addresses if a not in sent and a not in failed})
    if sent:
        record(
            user,
            AUDIT_ACTION,
            issue,
            comment=f"A test of the email went to {', '.join(sent)}.",
        )
    return sent, failed
