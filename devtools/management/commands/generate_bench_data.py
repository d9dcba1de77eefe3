import time

from django.core.management.base import BaseCommand

from devtools.bench_subscribers import generate_subscribers
from devtools.benchdata import Generator, Sizes, print_progress


class Command(BaseCommand):
    help = "Add archive-scale published content for benchmarks (2,000 issues, 40,000 stories...)."

    def add_arguments(self, parser):
        defaults = Sizes()
        for name in ("issues", "stories", "topics", "sources", "authors"):
            parser.add_argument(
                f"--{name}",
                type=int,
                default=getattr(defaults, name),
                help=f"how many {name} to add (default {getattr(defaults, name)})",
            )
        parser.add_argument(
            "--subscribers",
            type=int,
            default=100_000,
            help="how many newsletter subscribers to add (default 100,000; 0 for none)",
        )
        parser.add_argument("--seed", type=int, default=2025)
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        sizes = Sizes(
            **{k: options[k] for k in ("issues", "stories", "topics", "sources", "authors")}
        )
        if min(sizes.issues, sizes.stories, sizes.topics, sizes.sources, sizes.authors) < 1:
            self.stderr.write("Every size must be at least 1.")
            return
        started = time.monotonic()
        counts = Generator(
            sizes, seed=options["seed"], progress=None if options["quiet"] else print_progress
        ).run()
        summary = "Added {issues} issues, {stories} stories, {topics} topics, {sources} sources"
        if options["subscribers"] > 0:
            counts["subscribers"] = generate_subscribers(
                options["subscribers"],
                seed=options["seed"],
                progress=None if options["quiet"] else print_progress,
            )
            summary += ", {subscribers} subscribers"
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(summary.format(**counts) + f" in {elapsed:.0f} s."))
