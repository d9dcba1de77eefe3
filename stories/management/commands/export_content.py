"""Write the whole newsroom's content to a versioned JSON file (stdout by default)."""

from django.core.management.base import BaseCommand

from stories.portability import FORMAT_VERSION, export_content


class Command(BaseCommand):
    help = (
        "Export stories, issues, sources, topics, citations, corrections, revisions, "
        "the audit trail, staff usernames and media references as JSON "
        f"(format version {FORMAT_VERSION}). Media files themselves are not included: "
        "back up MEDIA_ROOT or the media bucket alongside."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="File to write; stdout when left out.")

    def handle(self, *args, output=None, **options):
        quiet = options["verbosity"] == 0

        def progress(section: str, done: int, total: int) -> None:
            if not quiet:
                self.stderr.write(f"  {section}: {done}/{total}")

        if output:
            with open(output, "w", encoding="utf-8") as out:
                counts = export_content(out, progress)
        else:
            counts = export_content(_Unterminated(self.stdout), progress)
            self.stdout.flush()
        if not quiet:
            summary = ", ".join(
                f"{count} {name.replace('_', ' ')}" for name, count in counts.items()
            )
            self.stderr.write(self.style.SUCCESS(f"Exported {summary}."))


class _Unterminated:
    """The command's stdout without the newline Django adds to every write."""

    def __init__(self, out):
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")
