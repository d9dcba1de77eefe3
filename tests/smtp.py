"""A real SMTP server in the test process (aiosmtpd), for tests that must see
mail leave through Django's SMTP backend rather than the locmem outbox."""

import email
import logging
import socket
import threading
import time
from email import policy

from aiosmtpd.controller import Controller


class Inbox:
    """What the server accepted: each message parsed, with its envelope."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._arrived:
            self.envelopes.append(
                {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)}
            )
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        """The messages once at least count have arrived (or AssertionError)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} messages, the server got {len(self.messages)}"
                    )
                self._arrived.wait(left)
            return list(self.messages)

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]

    def wait_to(self, address: str, count: int = 1, timeout: float = 5.0) -> list:
        """The messages to address once at least count have arrived."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.to(address)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} messages to {address}, got {len(self.to(address))}"
                    )
                self._arrived.wait(left)
            return self.to(address)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        # aiosmtpd logs every SMTP command at INFO; the tests read the inbox.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def text_of(message) -> str:
    """The plain-text part of a parsed message."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def html_of(message) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""
