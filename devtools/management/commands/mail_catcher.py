"""Catch the mail a development server sends, instead of delivering it.

`make run` starts it and points EMAIL_HOST and EMAIL_PORT at it: every message
is saved as an .eml file (open it in any mail client, or read it as text) and
announced with one line naming its recipients and subject.
"""

import itertools
import os
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


def shown(path: Path) -> str:
    """path relative to the current folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Command(BaseCommand):
    help = (
        "Run a local SMTP server that accepts every message, saves it as an .eml file "
        "and prints its recipients and subject. Stop with Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=1025, help="Port to listen on.")
        parser.add_argument(
            "--folder",
            type=Path,
            default=settings.BASE_DIR / "var" / "mail",
            help="Where messages are saved (default: var/mail/ in the project).",
        )

    def handle(self, *args, host, port, folder, **options):
        from devtools.smtp import MailHandler, SMTPServer

        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {port}.")
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        numbers = itertools.count(1)

        def save(message) -> None:
            name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{next(numbers):04d}.eml"
            path = folder / name
            partial = path.with_suffix(".part")
            partial.write_bytes(message.raw)
            os.replace(partial, path)  # a reader never finds half a message
            subject = " ".join(message.subject.split()) or "(no subject)"
            self.stdout.write(
                f"Mail to {', '.join(message.recipients)}: {subject}  [{shown(path)}]"
            )
            self.stdout.flush()

        try:
            server = SMTPServer(MailHandler(on_message=save), host=host, port=port).start()
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({error.strerror or error}); is another "
                "mail catcher running? Pick another port with --port."
            ) from None

        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda signum, frame: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.stdout.write(
            f"Catching mail on smtp://{server.host}:{server.port}; every message is saved "
            f"in {shown(folder)}/."
        )
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            server.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Stopped catching mail.")
