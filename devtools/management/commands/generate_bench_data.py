import time

from django.core.management.base import BaseCommand, CommandError

from devtools.bench_subscribers import generate_subscribers
from devtools.benchdata import STORIES_PER_ISSUE, Generator, Sizes, print_progress


class Command(BaseCommand):
    help = (
        "Add archive-scale published content for benchmarks (40,000 stories in 2,000 issues "
        "by default; --stories 400000 for a large archive), streamed in batches."
    )

    def add_arguments(self, parser):
        defaults = Sizes()
        parser.add_argument(
            "--issues",
            type=int,
            default=None,
            help=f"how many issues to add (default: one per {STORIES_PER_ISSUE} stories)",
        )
        for name in ("stories", "topics", "sources", "authors"):
            parser.add_argument(
                f"--{name}",
                type=int,
                default=getattr(defaults, name),
                help=f"how many {name} to add (default {getattr(defaults, name)})",
            )
        parser.add_argument(
            "--hot-topic",
            default=None,
            help='a topic (by name, e.g. "OpenAI") that a large share of the stories carry',
        )
        parser.add_argument(
            "--hot-share",
            type=float,
            default=0.9,
            help="the share of stories the hot topic carries, from 0 to 1 (default 0.9)",
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
        issues = options["issues"]
        if issues is None:
            issues = max(1, options["stories"] // STORIES_PER_ISSUE)
        sizes = Sizes(
            issues=issues, **{k: options[k] for k in ("stories", "topics", "sources", "authors")}
        )
        if min(sizes.issues, sizes.stories, sizes.topics, sizes.sources, sizes.authors) < 1:
            raise CommandError("Every size must be at least 1.")
        if not 0 <= options["hot_share"] <= 1:
            raise CommandError("--hot-share is a share of the stories, from 0 to 1.")
        progress = None if options["quiet"] else print_progress
        started = time.monotonic()
        counts = Generator(
            sizes,
            seed=options["seed"],
            progress=progress,
            hot_topic=options["hot_topic"],
            hot_share=options["hot_share"],
        ).run()
        summary = "Added {issues} issues, {stories} stories, {topics} topics, {sources} sources"
        if options["subscribers"] > 0:
            counts["subscribers"] = generate_subscribers(
                options["subscribers"], seed=options["seed"], progress=progress
            )
            summary += ", {subscribers} subscribers"
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(summary.format(**counts) + f" in {elapsed:.0f} s."))
