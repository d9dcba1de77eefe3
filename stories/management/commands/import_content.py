"""Restore a file written by export_content into an empty newsroom."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from stories.portability import ImportRefused, import_content


class Command(BaseCommand):
    help = (
        "Restore an export_content file into an empty database (run 'migrate' first). "
        "Statuses, timestamps, version numbers and rendered HTML come back exactly, "
        "and the search index is rebuilt; "
        "accounts that do not exist yet are created without a usable password."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The JSON file written by export_content ('-' for stdin).")

    def handle(self, *args, file, **options):
        quiet = options["verbosity"] == 0

        def progress(section: str, done: int, total: int) -> None:
            if not quiet:
                self.stderr.write(f"  {section}: {done}/{total}")

        try:
            if file == "-":
                data = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as stream:
                    data = json.load(stream)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except json.JSONDecodeError as error:
            raise CommandError(f"{file} is not valid JSON ({error}).") from None
        try:
            result = import_content(data, progress)
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
