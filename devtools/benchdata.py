"""Archive-scale content for benchmarks: years of issues, tens of thousands of stories.

Rows are written with bulk_create for speed, so published state is written
directly here rather than through stories/editorial/workflow.py: this is generated
fixture data, never editorial work, and it records no audit trail. Derived
fields are filled by the same functions Story.save() uses.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from stories.models import (
    Citation,
    Issue,
    IssueItem,
    Newsletter,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.publishing.search_index import rebuild_index
from stories.rendering import render_markdown

WORDS = (
    "model training compute inference open weights reasoning benchmark cluster GPU efficiency "
    "distillation latency agent safety governance policy funding startup chip memory context "
    "window token video provenance deepfake regulation market investor datacenter power "
    "researcher lab release licence evaluation alignment robotics multimodal speech search "
    "enterprise adoption pricing margin export control supply demand cloud"
).split()
SUBJECTS = [
    "DeepSeek",
    "OpenAI",
    "Mistral",
    "Google",
    "Nvidia",
    "Anthropic",
    "Meta",
    "xAI",
    "Microsoft",
    "Apple",
    "Amazon",
    "Alibaba",
    "Baidu",
    "Cohere",
    "Periodic",
]
VERBS = [
    "releases",
    "raises",
    "cuts",
    "doubles",
    "tests",
    "opens",
    "delays",
    "ships",
    "rethinks",
    "expands",
    "licenses",
    "audits",
]


@dataclass
class Sizes:
    issues: int = 2000
    stories: int = 40000
    topics: int = 300
    sources: int = 500
    authors: int = 40


FUNCTION_WORDS = (
    "the of and to a in is that for it as with was on by be this are from at or an but not "
    "have has its they which will more their than can been also new"
).split()
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def zipf_vocabulary(rng: random.Random, size: int = 6000):
    """Words with the frequencies of real prose (Zipf's law): function words
    most often, the domain's words spread from common to rare, and invented
    words for the long tail, so a search term matches a realistic share of
    stories rather than nearly all of them."""
    invented = set()
    while len(invented) < size:
        invented.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))))
    vocabulary = list(FUNCTION_WORDS) + sorted(invented)
    # Domain words at ranks from about 60 to 4,000, evenly on a log scale.
    for i, word in enumerate(WORDS):
        rank = int(60 * (4000 / 60) ** (i / max(1, len(WORDS) - 1)))
        vocabulary.insert(min(rank, len(vocabulary)), word)
    total, cumulative = 0.0, []
    for rank in range(1, len(vocabulary) + 1):
        total += 1 / rank
        cumulative.append(total)
    return vocabulary, cumulative


class Generator:
    def __init__(
        self,
        sizes: Sizes,
        seed: int = 2025,
        progress: Callable[[str, int, int], None] | None = None,
    ):
        self.sizes = sizes
        self.random = random.Random(seed)
        self.progress = progress or (lambda label, done, total: None)
        self.vocabulary, self.cumulative_weights = zipf_vocabulary(self.random)

    # -- text ----------------------------------------------------------------
    def words(self, n: int) -> list[str]:
        return self.random.choices(self.vocabulary, cum_weights=self.cumulative_weights, k=n)

    def sentence(self, n_min=12, n_max=28) -> str:
        return " ".join(self.words(self.random.randint(n_min, n_max))).capitalize() + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.random.randint(3, 6)))

    def headline(self) -> str:
        return (
            f"{self.random.choice(SUBJECTS)} {self.random.choice(VERBS)} "
            f"{' '.join(self.words(self.random.randint(2, 5)))}"
        )

    def body(self) -> str:
        parts = [self.paragraph() for _ in range(self.random.randint(2, 4))]
        parts.append(f"## {self.sentence(3, 6)[:-1]}")
        parts += [self.paragraph() for _ in range(self.random.randint(2, 5))]
        parts.append(
            "\n".join(
                f"- **{self.random.choice(WORDS).capitalize()}:** {self.sentence(6, 12)}"
                for _ in range(3)
            )
        )
        parts.append(
            f"Read the [original report](https://example.com/{self.random.randint(1, 10**6)})."
        )
        return "\n\n".join(parts)

    # -- rows ----------------------------------------------------------------
    def run(self) -> dict:
        with transaction.atomic():
            authors = self._authors()
            topics = self._named(Topic, self.sizes.topics, "topic")
            sources = self._named(Source, self.sizes.sources, "source")
            stories = self._stories(authors)
            self._links(stories, topics, sources, authors)
            issues = self._issues(stories)
            self._index(stories)
        return {
            "issues": issues,
            "stories": len(stories),
            "topics": len(topics),
            "sources": len(sources),
        }

    def _authors(self):
        User = get_user_model()
        users = [
            User(
                username=f"bench-author-{i}",
                first_name="Bench",
                last_name=f"Author {i}",
                is_staff=True,
            )
            for i in range(self.sizes.authors)
        ]
        User.objects.bulk_create(users, ignore_conflicts=True)
        return list(User.objects.filter(username__startswith="bench-author-"))

    def _named(self, model, count: int, kind: str):
        start = model.objects.count()
        rows = []
        for i in range(start, start + count):
            name = f"{self.random.choice(WORDS).capitalize()} {kind} {i}"
            rows.append(model(name=name, slug=slugify(name)))
        model.objects.bulk_create(rows, batch_size=1000)
        return list(model.objects.order_by("-pk")[:count])

    def _stories(self, authors):
        now = timezone.now()
        created = []
        total = self.sizes.stories
        batch = []
        first = (Story.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        for i in range(total):
            body = self.body()
            tldr = self.sentence() if i % 3 == 0 else ""
            why = "\n".join(f"- {self.sentence(5, 10)}" for _ in range(3)) if i % 2 == 0 else ""
            headline = self.headline()
            batch.append(
                Story(
                    headline=headline,
                    slug=f"{slugify(headline)[:150]}-{first + i}",
                    dek=self.sentence(8, 16),
                    body=body,
                    body_html=render_markdown(body),
                    tldr=tldr,
                    tldr_html=render_markdown(tldr),
                    why_it_matters=why,
                    why_it_matters_html=render_markdown(why),
                    created_by=self.random.choice(authors),
                    status=Story.Status.PUBLISHED,
                    status_changed_at=now,
                    published_at=now,
                    version=1,
                )
            )
            if len(batch) == 1000 or i == total - 1:
                created += Story.objects.bulk_create(batch)
                batch = []
                self.progress("stories", i + 1, total)
        return created

    def _links(self, stories, topics, sources, authors):
        Byline = Story.authors.through
        tags, cites, bylines = [], [], []
        for n, story in enumerate(stories, start=1):
            for topic in self.random.sample(topics, k=min(len(topics), self.random.randint(1, 4))):
                tags.append(TaggedTopic(content_object=story, tag=topic))
            for position, source in enumerate(
                self.random.sample(sources, k=min(len(sources), self.random.randint(1, 3))), 1
            ):
                cites.append(
                    Citation(
                        story=story,
                        source=source,
                        position=position,
                        url=f"https://example.com/{story.pk}/{position}",
                        title=self.sentence(4, 8)[:-1],
                    )
                )
            bylines.append(Byline(story=story, user=self.random.choice(authors)))
            if n % 5000 == 0 or n == len(stories):
                TaggedTopic.objects.bulk_create(tags, batch_size=5000)
                Citation.objects.bulk_create(cites, batch_size=5000)
                Byline.objects.bulk_create(bylines, batch_size=5000, ignore_conflicts=True)
                tags, cites, bylines = [], [], []
                self.progress("topics, sources and bylines", n, len(stories))

    def _index(self, stories) -> None:
        """Search rows for the new stories, once the issues that make them
        public exist (bulk_create skips Story.save(), which indexes)."""
        rebuild_index([story.pk for story in stories], progress=self.progress, batch=1000)

    def _issues(self, stories) -> int:
        count = self.sizes.issues
        # The archive is the default newsletter's, numbered after its last issue.
        newsletter = Newsletter.objects.default() or Newsletter.objects.create(
            name="The Newsroom",
            slug="the-newsroom",
            sender_name="The Newsroom",
            sender_email="newsroom@localhost",
            postal_address="1 Example Street, Exampletown",
            is_default=True,
        )
        first_number = (newsletter.issues.aggregate(m=Max("number"))["m"] or 0) + 1
        now = timezone.now()
        # Alternate small and large issues so both shapes exist, the average
        # filling the stories given; the newest issue holds exactly ten.
        per_issue = max(1, len(stories) // max(1, count))
        sizes = [10 if i % 2 == 0 else max(1, 2 * per_issue - 10) for i in range(count)]
        issues = []
        for i in range(count):
            when = now - timedelta(days=count - i, hours=self.random.randint(0, 6))
            headline = self.headline()
            issues.append(
                Issue(
                    newsletter=newsletter,
                    number=first_number + i,
                    headline=headline,
                    slug=slugify(headline)[:200],
                    intro=self.paragraph(),
                    status=Issue.Status.PUBLISHED,
                    publish_at=when,
                    published_at=when,
                    version=1,
                )
            )
        for issue in issues:
            issue.intro_html = render_markdown(issue.intro)
        issues = Issue.objects.bulk_create(issues, batch_size=1000)
        items, cursor = [], 0
        for n, (issue, size) in enumerate(zip(reversed(issues), sizes, strict=True), start=1):
            for position, story in enumerate(stories[cursor : cursor + size], start=1):
                items.append(IssueItem(issue=issue, story=story, position=position))
            cursor += size
            if n % 200 == 0 or n == count:
                IssueItem.objects.bulk_create(items, batch_size=5000)
                items = []
                self.progress("issues", n, count)
        # Stories no issue took (when sizes do not divide evenly) join the oldest one.
        if cursor < len(stories):
            IssueItem.objects.bulk_create(
                IssueItem(issue=issues[0], story=s, position=1000 + k)
                for k, s in enumerate(stories[cursor:])
            )
        return count


def print_progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
