"""Sending a send's copies: claim a batch, hand it to the mail server over one
connection, write down what happened in small chunks, repeat.

The issue's mail is rendered once per task. Through Django's SMTP backend
each copy is the same prebuilt bytes with the subscriber's address,
Message-ID and signed links spliced in, handed to the connection's sendmail:
no MIME object per copy. Any other EMAIL_BACKEND (a provider's API through
django-anymail) gets an EmailMultiAlternatives per copy, slower but the same
mail.

Crash safety comes from the order of things: a copy is marked SENDING (and
committed) before it is handed over, and SENT after, every few copies; a
worker killed in between leaves its copies SENDING, send_due_mail takes them
back once their lease ends, and they go out again with the same Message-ID.
Nothing marked SENT is ever claimed again.
"""

from __future__ import annotations

import html
import logging
import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from newsletters.delivery import ledger, thresholds
from newsletters.links import make_token
from newsletters.mail.edition import render_edition
from newsletters.mail.message import SubscriberLinks, edition_message
from newsletters.models import Delivery, Send

log = logging.getLogger(__name__)

S = Send.State

# Stand-ins spliced out of the prebuilt bytes: never words of a mail, no
# characters that HTML escaping or header folding would touch.
TO = "nr-to-0d8f3c@placeholder.invalid"
SUBSCRIBER = "NRSUBSCRIBER0d8f3c"
PREFERENCES = "https://nr-preferences-0d8f3c.invalid/"
UNSUBSCRIBE = "https://nr-unsubscribe-0d8f3c.invalid/"
ONE_CLICK = "https://nr-oneclick-0d8f3c.invalid/"
TOKEN = "NRUNSUBSCRIBETOKEN0d8f3c"  # the mailto's signed token
SLOTS = (TO, SUBSCRIBER, PREFERENCES, UNSUBSCRIBE, ONE_CLICK, TOKEN)


class _Subscriber:
    """What make_token reads of a subscriber, without loading one."""

    __slots__ = ("pk", "link_key")

    def __init__(self, pk: int, link_key: str):
        self.pk, self.link_key = pk, link_key


def _rate_wait(count: int) -> None:
    """Take count messages from this second's share of NEWSROOM_MAIL_RATE,
    waiting for the next second while it is spent (counted in the shared
    cache, so all workers together keep to it)."""
    rate = getattr(settings, "NEWSROOM_MAIL_RATE", 0)
    if not rate:
        return
    while True:
        second = int(time.time())
        key = f"newsroom:mail-rate:{second}"
        cache.add(key, 0, timeout=5)
        try:
            used = cache.incr(key, count)
        except ValueError:
            continue
        if used <= rate or used - count == 0:
            return
        time.sleep(max(second + 1 - time.time(), 0.001))


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    stopped: str = ""


class Sender:
    """Sends copies of one send's issue; the edition is built once."""

    def __init__(self, send: Send):
        self.send = send
        self.issue = send.issue
        self.newsletter = self.issue.newsletter
        self.edition = render_edition(self.issue)
        self.backend = get_connection()
        self.fast = isinstance(self.backend, SMTPBackend)
        self.envelope_from = self.newsletter.sender_email
        self.record_every = getattr(settings, "NEWSROOM_MAIL_RECORD_EVERY", 20)
        self._urls = {}
        if self.fast:
            self._pieces = self._prebuild()

    # -- building ----------------------------------------------------------------

    def _links(self, copy: ledger.Claimed) -> SubscriberLinks:
        who = _Subscriber(copy.subscriber_id, copy.link_key)
        nid, iid = self.newsletter.pk, self.issue.pk
        # The unsubscribe page and the one-click endpoint take the same token.
        unsubscribe = make_token(who, nid, "unsubscribe", iid)
        return SubscriberLinks(
            subscriber_id=copy.subscriber_id,
            email=copy.email,
            preferences_url=self._url("preferences", make_token(who, nid, "preferences", iid)),
            unsubscribe_url=self._url("unsubscribe", unsubscribe),
            one_click_url=self._url("one_click", unsubscribe),
            unsubscribe_token=unsubscribe,
        )

    def _url(self, name: str, token: str) -> str:
        from django.urls import reverse

        if name not in self._urls:
            self._urls[name] = settings.SITE_URL + reverse(f"newsletters:{name}", args=["T0K3N"])
        return self._urls[name].replace("T0K3N", token)

    def _prebuild(self) -> list[bytes | int] | None:
        """The copy's bytes cut at each stand-in: a list of byte strings and
        slot numbers; None when the mail's encoding hides a stand-in."""
        stand_in = SubscriberLinks(
            subscriber_id=SUBSCRIBER,  # formatted into the Message-ID and mailto
            email=TO,
            preferences_url=PREFERENCES,
            unsubscribe_url=UNSUBSCRIBE,
            one_click_url=ONE_CLICK,
            unsubscribe_token=TOKEN,
        )
        message = edition_message(self.issue, self.edition, stand_in)
        raw = message.message().as_bytes(linesep="\r\n")
        # What smtplib's sendmail would do to every copy, done once.
        raw = smtplib._quote_periods(raw)
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        pieces: list[bytes | int] = [raw]
        for slot, text in enumerate(SLOTS):
            token = text.encode()
            cut: list[bytes | int] = []
            for piece in pieces:
                if isinstance(piece, int):
                    cut.append(piece)
                    continue
                parts = piece.split(token)
                for index, part in enumerate(parts):
                    if index:
                        cut.append(slot)
                    cut.append(part)
            pieces = cut
        found = {piece for piece in pieces if isinstance(piece, int)}
        if found != set(range(len(SLOTS))):
            log.warning("Issue mail is sent message by message: its encoding hides the links.")
            return None
        return pieces

    def _bytes(self, copy: ledger.Claimed, links: SubscriberLinks) -> bytes | None:
        """The copy's bytes, or None when it must be built the slow way (an
        address or link that is not plain ASCII, or a link HTML would escape)."""
        if self._pieces is None:
            return None
        values = (
            copy.email,
            str(copy.subscriber_id),
            links.preferences_url,
            links.unsubscribe_url,
            links.one_click_url,
            links.unsubscribe_token,
        )
        for value in values:
            if not value.isascii() or html.escape(value) != value:
                return None
        encoded = [value.encode() for value in values]
        return b"".join(p if isinstance(p, bytes) else encoded[p] for p in self._pieces)

    # -- sending -------------------------------------------------------------------

    def open(self) -> None:
        self.backend.open()

    def close(self) -> None:
        try:
            self.backend.close()
        except Exception:  # a dead connection has nothing to say on the way out
            log.debug("Closing the mail connection failed", exc_info=True)

    def _hand_over(self, copy: ledger.Claimed) -> str:
        """Hand one copy to the server. Returns "" when accepted, else raises."""
        links = self._links(copy)
        if self.fast:
            data = self._bytes(copy, links)
            smtp = self.backend.connection
            if data is not None:
                _sendmail_prebuilt(smtp, self.envelope_from, copy.email, data)
                return ""
            message = edition_message(self.issue, self.edition, links)
            smtp.sendmail(
                self.envelope_from, [copy.email], message.message().as_bytes(linesep="\r\n")
            )
            return ""
        message = edition_message(self.issue, self.edition, links, connection=self.backend)
        # anymail passes metadata to the provider, which returns it with every
        # tracking event: the webhooks find the delivery by it. Providers keep
        # metadata values as strings.
        message.metadata = {"delivery": str(copy.delivery_id)}
        try:
            self.backend.send_messages([message])
        except Exception as error:
            if type(error).__name__ == "AnymailRecipientsRefused":
                raise _Refused(550, f"The provider refused it: {error}") from error
            # A provider's API down or refusing for now: tried again later.
            raise _Refused(451, f"The provider did not take it: {error}") from error
        status = getattr(message, "anymail_status", None)
        if status is not None:
            if status.status and status.status <= {"rejected", "invalid"}:
                raise _Refused(
                    550, f"The provider refused it ({', '.join(sorted(status.status))})."
                )
            return "" if status.message_id is None else str(status.message_id)
        return ""

    def run(self, copies: list[ledger.Claimed], keep_going) -> Outcome:
        """Send copies, writing results every record_every; keep_going() is
        asked between chunks and False stops (paused, cancelled, time up)."""
        outcome = Outcome()
        done: list[int] = []
        provider_ids: dict[int, str] = {}
        index = 0
        renewed = time.monotonic()
        # A batch's lease is renewed while it is sent, so a slow worker (a
        # loaded machine, a rate limit) is never taken for a dead one.
        renew_every = min(ledger.lease().total_seconds() / 3, 30)
        try:
            while index < len(copies):
                chunk = copies[index : index + self.record_every]
                _rate_wait(len(chunk))
                failed_before = outcome.failed
                for copy in chunk:
                    try:
                        provider_id = self._hand_over(copy)
                    except _Refused as refusal:
                        self._refused(copy, refusal.code, refusal.text, outcome)
                    except smtplib.SMTPRecipientsRefused as error:
                        code, text = next(iter(error.recipients.values()))
                        self._refused(copy, code, _text(text), outcome)
                    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as error:
                        if isinstance(error, smtplib.SMTPSenderRefused):
                            # Our own address refused: nothing will get through.
                            raise _Stop(
                                f"The mail server refused the sender {self.envelope_from}: "
                                f"{error.smtp_code} {_text(error.smtp_error)}",
                                pause=True,
                            ) from error
                        self._refused(copy, error.smtp_code, _text(error.smtp_error), outcome)
                    else:
                        done.append(copy.delivery_id)
                        if provider_id:
                            provider_ids[copy.delivery_id] = provider_id
                    index += 1
                outcome.sent += ledger.record_sent(done, provider_ids=provider_ids)
                done, provider_ids = [], {}
                # A refusal for good is a hard bounce: judge the send's rates
                # (one query) after each chunk that had one, as the provider
                # webhooks do after each bounce they report.
                if outcome.failed > failed_before and thresholds.check(self.send):
                    outcome.stopped = "paused"
                    break
                if index < len(copies) and not keep_going():
                    outcome.stopped = "stopped"
                    break
                if time.monotonic() - renewed > renew_every and index < len(copies):
                    # Still alive: the copies not yet handed over keep their lease.
                    ledger.renew_claims([c.delivery_id for c in copies[index:]])
                    renewed = time.monotonic()
        except (smtplib.SMTPException, OSError) as error:
            # The connection broke: what was accepted is recorded, the rest is
            # given back, the copy in hand included (it may have arrived: it
            # would go again with the same Message-ID).
            outcome.sent += ledger.record_sent(done, provider_ids=provider_ids)
            done = []
            if isinstance(error, _Stop):
                raise
            log.warning("Mail connection failed during a send: %s", error)
            outcome.stopped = f"connection: {error}"
            self.close()
        finally:
            if done:
                outcome.sent += ledger.record_sent(done, provider_ids=provider_ids)
            left = [copy.delivery_id for copy in copies[index:]]
            if left:
                outcome.released += ledger.release(left)
        return outcome

    def _refused(self, copy, code: int, text: str, outcome: Outcome) -> None:
        reason = f"{code} {text}".strip()
        if 500 <= code < 600:
            ledger.record_permanent_failure(copy.delivery_id, reason)
            outcome.failed += 1
        else:
            ledger.record_temporary_failure(copy.delivery_id, reason)
            outcome.retried += 1
            if code == 421:  # the server is closing the connection
                raise smtplib.SMTPServerDisconnected(reason)


class _Refused(Exception):
    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text


class _Stop(smtplib.SMTPException):
    def __init__(self, reason: str, pause: bool = False):
        super().__init__(reason)
        self.reason, self.pause = reason, pause


def _text(reply) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _sendmail_prebuilt(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """smtplib's sendmail for bytes whose periods are already quoted and whose
    last line ends in CRLF. With PIPELINING (RFC 2920, which Postfix and the
    providers' relays offer) MAIL, RCPT and DATA go out in one write and their
    replies are read together: two round trips a message instead of four."""
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("pipelining"):
        _sendmail_stepwise(smtp, sender, recipient, data)
        return
    smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode())
    (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
        smtp.getreply(),
        smtp.getreply(),
        smtp.getreply(),
    )
    if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
        # A server should refuse DATA after a refused recipient; one that
        # did not gets an empty message ended at once, then RSET.
        smtp.send(b".\r\n")
        smtp.getreply()
        data_code = 503
    if mail_code != 250:
        _reset(smtp, mail_code)
        raise smtplib.SMTPSenderRefused(mail_code, mail_reply, sender)
    if rcpt_code not in (250, 251):
        _reset(smtp, rcpt_code)
        raise smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_reply)})
    if data_code != 354:
        _reset(smtp, data_code)
        raise smtplib.SMTPDataError(data_code, data_reply)
    smtp.send(data + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _sendmail_stepwise(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    code, reply = smtp.mail(sender)
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _reset(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    smtp.send(data + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    """As smtplib does after a refusal: RSET, or close on 421."""
    if code == 421:
        smtp.close()
    else:
        smtp._rset()


@dataclass(frozen=True)
class Run:
    """What one batch task did, and whether the send needs another task."""

    summary: str
    carry_on: bool = False


def run_batches(send_id: int) -> Run:
    """The batch task's work: claim and send until nothing is due, the send
    stops, or NEWSROOM_MAIL_TASK_SECONDS pass (then carry_on says the send is
    still going, and the task queues itself again so other tasks get the
    worker meanwhile)."""
    send = Send.objects.select_related("issue__newsletter", "newsletter").filter(pk=send_id).first()
    if send is None or send.state != S.SENDING:
        return Run("not sending")
    deadline = time.monotonic() + getattr(settings, "NEWSROOM_MAIL_TASK_SECONDS", 60)
    batch = getattr(settings, "NEWSROOM_MAIL_BATCH", 500)
    rate = getattr(settings, "NEWSROOM_MAIL_RATE", 0)
    if rate:
        # Hold no more than about ten seconds of work, so a lease never ends
        # on copies that are only waiting their turn.
        batch = max(1, min(batch, rate * 10))
    sender = Sender(send)
    totals = Outcome()
    last_check = [time.monotonic()]

    def keep_going() -> bool:
        now = time.monotonic()
        if now > deadline:
            return False
        if now - last_check[0] < 1:
            return True
        last_check[0] = now
        return Send.objects.filter(pk=send_id, state=S.SENDING).exists()

    try:
        opened = False
        while time.monotonic() < deadline:
            copies = ledger.claim(send_id, batch)
            if not copies:
                break
            if not opened:
                try:
                    sender.open()
                except (smtplib.SMTPException, OSError) as error:
                    ledger.release([c.delivery_id for c in copies], delay=_retry_delay())
                    log.warning("Cannot reach the mail server: %s", error)
                    return Run(f"mail server unreachable: {error}")
                opened = True
            try:
                outcome = sender.run(copies, keep_going)
            except _Stop as stop:
                ledger.pause_send_automatically(send, stop.reason)
                return Run(f"paused: {stop.reason}")
            for name in ("sent", "failed", "retried", "released"):
                setattr(totals, name, getattr(totals, name) + getattr(outcome, name))
            if outcome.stopped.startswith("connection"):
                opened = False
                continue
            if outcome.stopped:
                break
    finally:
        sender.close()
    _after_stop(send_id)
    summary = f"{totals.sent} sent, {totals.failed} failed, {totals.retried} to retry"
    if time.monotonic() >= deadline and Send.objects.filter(pk=send_id, state=S.SENDING).exists():
        return Run(summary + "; carrying on in a new task", carry_on=True)
    return Run(summary)


def _retry_delay():
    from datetime import timedelta

    return timedelta(seconds=getattr(settings, "NEWSROOM_MAIL_RETRY_SECONDS", 60))


def _after_stop(send_id: int) -> None:
    """A cancelled send skips the copies given back; a sending one may be done."""
    state = Send.objects.filter(pk=send_id).values_list("state", flat=True).first()
    if state == S.CANCELLED:
        Delivery.objects.filter(send_id=send_id, state=Delivery.State.QUEUED).update(
            state=Delivery.State.SKIPPED, reason="Send cancelled."
        )
    elif state == S.SENDING:
        ledger.finish_if_done(send_id)
