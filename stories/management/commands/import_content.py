"""Restore a file written by export_content into an empty newsroom."""

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError

from stories.backup_checks import MAX_FILE_BYTES, read_export
from stories.portability import ImportRefused, import_content


class Command(BaseCommand):
    help = (
        "Restore an export_content file into an empty database (run 'migrate' first). "
        "The whole file is checked before anything is written, and nothing is written "
        "unless all of it can be. Statuses, timestamps and version numbers come back "
        "exactly, HTML is rendered again from the Markdown, and the search index is rebuilt; "
        "accounts that do not exist yet are created without a usable password."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The JSON file written by export_content ('-' for stdin).")
        parser.add_argument(
            "--max-bytes",
            type=byte_count,
            default=MAX_FILE_BYTES,
            help=f"Refuse files larger than this (default {MAX_FILE_BYTES:,} bytes).",
        )

    def handle(self, *args, file, max_bytes, **options):
        quiet = options["verbosity"] == 0

        def progress(section: str, done: int, total: int) -> None:
            if not quiet:
                self.stderr.write(f"  {section}: {done}/{total}")

        try:
            if file == "-":
                data = read_export(sys.stdin.buffer, "The input", max_bytes)
            else:
                with open(file, "rb") as stream:
                    data = read_export(stream, file, max_bytes)
            result = import_content(data, progress)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        summary = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in result["counts"].items()
        )
        self.stdout.write(self.style.SUCCESS(f"Restored {summary}."))
        self.stdout.write(f"Indexed {result['indexed']} stories for search.")
        if result["created_users"]:
            self.stdout.write(
                f"Created {result['created_users']} accounts without passwords; set them with "
                "'manage.py changepassword <username>'."
            )
        if result["missing_media"]:
            shown = ", ".join(result["missing_media"][:5])
            self.stdout.write(
                self.style.WARNING(
                    f"{len(result['missing_media'])} media files the content refers to are not "
                    f"in media storage (e.g. {shown}); restore them from the media backup."
                )
            )


def byte_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = 0
    if not 0 < count < sys.maxsize:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of bytes above 0")
    return count
