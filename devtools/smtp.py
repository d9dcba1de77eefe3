"""A local SMTP server that accepts every message: `make run`'s mail catcher
and the tests' `smtp_server` fixture.

It speaks real SMTP (aiosmtpd), so mail reaches it through Django's SMTP
backend exactly as it would reach a provider's relay. It can also be told to
refuse some recipients, permanently (5xx) or for a while (4xx), so senders can
be tested against the answers real servers give.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class CaughtMessage:
    """One message as the server received it."""

    mail_from: str
    recipients: tuple[str, ...]  # the envelope's, Bcc included
    raw: bytes
    connection: int  # which SMTP connection carried it, counted from 1
    message: EmailMessage = field(repr=False, compare=False)

    @classmethod
    def parse(cls, mail_from: str, recipients, raw: bytes, connection: int) -> CaughtMessage:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        return cls(mail_from, tuple(recipients), raw, connection, parsed)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value)

    def body(self, subtype: str = "plain") -> str:
        """The text/plain (or text/html) part, decoded, with the line ends of
        SMTP (CRLF) read as newlines."""
        part = self.message.get_body(preferencelist=(subtype,))
        return "" if part is None else part.get_content().replace("\r\n", "\n")


@dataclass
class _Refusal:
    reply: str
    times: int | None  # None: every time


class MailHandler:
    """aiosmtpd handler: keeps every message, and answers refusals it was given.

    aiosmtpd calls it on its own event-loop thread while tests and commands
    read from theirs, so everything shared is behind one lock."""

    def __init__(self, on_message: Callable[[CaughtMessage], None] | None = None):
        self.on_message = on_message
        self._lock = threading.Condition()
        self._messages: list[CaughtMessage] = []
        self._refusals: dict[str, _Refusal] = {}
        self._connection_count = 0

    # -- what tests and commands use -------------------------------------

    @property
    def messages(self) -> list[CaughtMessage]:
        with self._lock:
            return list(self._messages)

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._refusals.clear()
            self._connection_count = 0

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user", times=None) -> None:
        """Answer RCPT TO:<address> with reply (every time, or the next times)."""
        code = reply[:3]
        if not (code.isdigit() and code[0] in "45"):
            raise ValueError(f"A refusal is a 4xx or 5xx SMTP reply, not {reply!r}.")
        with self._lock:
            self._refusals[address.lower()] = _Refusal(reply, times)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[CaughtMessage]:
        """The messages once at least count have arrived; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"Expected {count} message(s) within {timeout} s, got "
                        f"{len(self._messages)}."
                    )
                self._lock.wait(left)
            return list(self._messages)

    # -- aiosmtpd hooks --------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            refusal = self._refusals.get(address.lower())
            if refusal is not None:
                if refusal.times is not None:
                    refusal.times -= 1
                    if refusal.times <= 0:
                        del self._refusals[address.lower()]
                return refusal.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        with self._lock:
            # aiosmtpd keeps one Session per connection: number it on its first message.
            connection = getattr(session, "caught_connection", None)
            if connection is None:
                self._connection_count += 1
                connection = session.caught_connection = self._connection_count
        message = CaughtMessage.parse(envelope.mail_from, envelope.rcpt_tos, raw, connection)
        if self.on_message is not None:
            # Before it is counted, so whoever waits for it finds it stored.
            self.on_message(message)
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller, which also takes port 0 (a free port)."""

    def _trigger_server(self):
        # Learn the port the system gave before the controller connects to
        # itself to check that the server answers.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    """An SMTP server on its own thread: start(), then host and port; stop()."""

    def __init__(self, handler: MailHandler, host: str = "127.0.0.1", port: int = 0):
        self.handler = handler
        # Long lines and 8-bit bodies are accepted as a relay would accept them.
        self._controller = _Controller(
            handler, hostname=host, port=port, data_size_limit=0, enable_SMTPUTF8=True
        )

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    def start(self) -> SMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
