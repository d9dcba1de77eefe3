"""Archive-scale content for benchmarks: years of issues, hundreds of
thousands of stories.

Rows are streamed to the database in batches (COPY on PostgreSQL, multi-row
INSERTs on SQLite) rather than built as model instances, so memory stays flat
whatever the size and 400,000 stories take minutes. Published state is
written directly here rather than through stories/editorial/workflow.py: this is
generated fixture data, never editorial work, and it records no audit trail.

Derived fields hold exactly what Story.save() and the search index would
write (tests/test_bench_data.py holds them to it): the text is assembled from
a pool of paragraphs, lists and sentences rendered once with the site's own
Markdown renderer, and Markdown blocks separated by a blank line render to
the concatenation of their HTML. Search vectors are computed by PostgreSQL
from the same columns, with the same weights, as stories/models/search.py.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from queue import Empty, Full, Queue
from threading import Event, Lock, Thread

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from stories.models import (
    Citation,
    Issue,
    IssueItem,
    ListingEntry,
    Newsletter,
    SearchDocument,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.models.search import RANKED_LEAD_CHARS, SEARCH_CONFIG
from stories.publishing.search_index import _plain as plain_text
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


# An issue holds this many stories on average unless told otherwise.
STORIES_PER_ISSUE = 20


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


class Pool:
    """Markdown blocks with their HTML and plain text, rendered once. Every
    block of every pool has its own number in blocks (the plain texts), by
    which the database holds its search vector."""

    def __init__(self, sources: list[str], rendered: Iterator[tuple[str, str]], blocks: list[str]):
        self.markdown = sources
        self.html: list[str] = []
        self.plain: list[str] = []
        self.first = len(blocks)
        for _ in sources:
            html, plain = next(rendered)
            self.html.append(html)
            self.plain.append(plain)
        blocks += self.plain

    def pick(self, rng: random.Random) -> int:
        return rng.randrange(len(self.markdown))

    def block(self, k: int) -> int:
        return self.first + k


def rendered_block(source: str) -> tuple[str, str]:
    """A Markdown block's HTML, as Story.save() renders it, and its plain text."""
    html = render_markdown(source)
    return html, plain_text(html)


# Below this many blocks, starting processes costs more than it saves.
PARALLEL_RENDER_MIN = 5000


def render_all(sources: list[str]) -> list[tuple[str, str]]:
    """rendered_block of each source, in order. A large pool is rendered by a
    forked process per core: Markdown is the costliest Python work of a large
    run, and nothing else runs meanwhile."""
    cores = os.cpu_count() or 1
    if (
        len(sources) < PARALLEL_RENDER_MIN
        or cores < 2
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return [rendered_block(source) for source in sources]
    with multiprocessing.get_context("fork").Pool(cores) as workers:
        return workers.map(rendered_block, sources, chunksize=500)


# Rows of each batch: stories and everything hanging off them.
BATCH = 2000
# Size of the pools text is drawn from: enough that a rare word stays rare.
POOL_PARAGRAPHS = 30000


class Generator:
    def __init__(
        self,
        sizes: Sizes,
        seed: int = 2025,
        progress: Callable[[str, int, int], None] | None = None,
        hot_topic: str | None = None,
        hot_share: float = 0.0,
    ):
        self.sizes = sizes
        self.random = random.Random(seed)
        self.progress = progress or (lambda label, done, total: None)
        self.hot_topic = hot_topic
        self.hot_share = hot_share if hot_topic else 0.0
        self.vocabulary, self.cumulative_weights = zipf_vocabulary(self.random)

    # -- text ----------------------------------------------------------------
    def words(self, n: int) -> list[str]:
        return self.random.choices(self.vocabulary, cum_weights=self.cumulative_weights, k=n)

    def sentence(self, n_min=12, n_max=28) -> str:
        # Ends on a word of the domain, never a stop word (see Vectors).
        words = self.words(self.random.randint(n_min, n_max) - 1)
        words.append(self.random.choice(WORDS))
        return " ".join(words).capitalize() + "."

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.random.randint(3, 6)))

    def headline(self) -> str:
        return (
            f"{self.random.choice(SUBJECTS)} {self.random.choice(VERBS)} "
            f"{' '.join(self.words(self.random.randint(2, 5)))}"
        )

    def _pools(self) -> None:
        paragraphs = max(200, min(POOL_PARAGRAPHS, self.sizes.stories))
        small = max(50, paragraphs // 6)
        sources = {
            "paragraphs": [self.paragraph() for _ in range(paragraphs)],
            "headings": [f"## {self.sentence(3, 6)[:-1]}" for _ in range(small)],
            "links": ["Read the [original report](https://example.com/0)."],
            "key_lists": [
                "\n".join(
                    f"- **{self.random.choice(WORDS).capitalize()}:** {self.sentence(6, 12)}"
                    for _ in range(3)
                )
                for _ in range(small)
            ],
            "tldrs": [self.sentence() for _ in range(small)],
            "whys": [
                "\n".join(f"- {self.sentence(5, 10)}" for _ in range(3)) for _ in range(small)
            ],
        }
        rendered = iter(render_all([text for group in sources.values() for text in group]))
        self.blocks: list[str] = []
        self.paragraphs = Pool(sources["paragraphs"], rendered, self.blocks)
        self.headings = Pool(sources["headings"], rendered, self.blocks)
        self.links = Pool(sources["links"], rendered, self.blocks)
        self.link_html = self.links.html[0].replace("example.com/0", "example.com/{}")
        self.key_lists = Pool(sources["key_lists"], rendered, self.blocks)
        self.tldrs = Pool(sources["tldrs"], rendered, self.blocks)
        self.whys = Pool(sources["whys"], rendered, self.blocks)
        self.deks = [self.sentence(8, 16) for _ in range(small)]
        self.titles = [self.sentence(4, 8)[:-1] for _ in range(small)]

    def story_text(self, i: int) -> dict:
        """A story's Markdown fields, their HTML and its search text."""
        rng = self.random
        blocks = [(self.paragraphs, self.paragraphs.pick(rng)) for _ in range(rng.randint(2, 4))]
        blocks.append((self.headings, self.headings.pick(rng)))
        blocks += [(self.paragraphs, self.paragraphs.pick(rng)) for _ in range(rng.randint(2, 5))]
        blocks.append((self.key_lists, self.key_lists.pick(rng)))
        report = rng.randint(1, 10**6)
        body = "\n\n".join(pool.markdown[k] for pool, k in blocks)
        body += f"\n\nRead the [original report](https://example.com/{report})."
        body_html = "".join(pool.html[k] for pool, k in blocks) + self.link_html.format(report)
        blocks.append((self.links, 0))
        body_plain = "".join(pool.plain[k] for pool, k in blocks)
        tldr = tldr_html = why = why_html = ""
        search, ids = [], []
        if i % 3 == 0:
            k = self.tldrs.pick(rng)
            tldr, tldr_html = self.tldrs.markdown[k], self.tldrs.html[k]
            search.append(self.tldrs.plain[k])
            ids.append(self.tldrs.block(k))
        search.append(body_plain)
        ids += [pool.block(k) for pool, k in blocks]
        if i % 2 == 0:
            k = self.whys.pick(rng)
            why, why_html = self.whys.markdown[k], self.whys.html[k]
            search.append(self.whys.plain[k])
            ids.append(self.whys.block(k))
        return {
            "headline": self.headline(),
            "dek": rng.choice(self.deks),
            "body": body,
            "body_html": body_html,
            "tldr": tldr,
            "tldr_html": tldr_html,
            "why_it_matters": why,
            "why_it_matters_html": why_html,
            "search_body": "\n".join(search),
            "search_blocks": ids,
        }

    # -- rows ----------------------------------------------------------------
    def run(self) -> dict:
        self._pools()
        writers = parallel_writers()
        with transaction.atomic():
            bulk_load_settings()
            authors = self._authors()
            topics = self._named(Topic, self.sizes.topics, "topic")
            sources = self._named(Source, self.sizes.sources, "source")
            hot = self._hot_topic()
            issues = self._issues()
            first_story = (Story.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
            batches = self._batches(first_story, issues, authors, topics, sources, hot)
            listing = [lambda: write_listing_entries(first_story)]
            if writers == 1:
                # All in this transaction: a failure leaves the database as it was.
                dropped = DroppedForLoad.drop(LOADED_TABLES, self.sizes.stories)
                self._stories(batches)
                dropped.restore(also=listing)
                reset_sequences([Story, Issue])
        if writers > 1:
            # Each writer commits its own work: the issues and dropped indexes
            # first, so that the writers' connections see them.
            with transaction.atomic():
                dropped = DroppedForLoad.drop(LOADED_TABLES, self.sizes.stories)
            try:
                self._stories_in_parallel(batches, writers)
                dropped.restore(also=listing, threads=writers)
            except BaseException:
                # A failed or interrupted load takes back what it added, and
                # the schema is whole again whatever happened.
                try:
                    forget_stories(first_story, issues[0][0])
                finally:
                    dropped.restore(threads=writers)
                raise
            reset_sequences([Story, Issue])
        if connection.vendor == "postgresql":
            # Fresh statistics for the tables written here only: a database-wide
            # ANALYZE would also record other tables as they are now (empty, in
            # a test), and plans made from that misjudge them later.
            written = [model._meta.db_table for model in (Issue, *LOADED_TABLES)]
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE " + ", ".join(map(connection.ops.quote_name, written)))
        return {
            "issues": len(issues),
            "stories": self.sizes.stories,
            "topics": len(topics),
            "sources": len(sources),
        }

    def _authors(self) -> list[int]:
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
        return list(
            User.objects.filter(username__startswith="bench-author-").values_list("pk", flat=True)
        )

    def _named(self, model, count: int, kind: str) -> list[int]:
        start = model.objects.count()
        rows = []
        for i in range(start, start + count):
            name = f"{self.random.choice(WORDS).capitalize()} {kind} {i}"
            rows.append(model(name=name, slug=slugify(name)))
        model.objects.bulk_create(rows, batch_size=1000)
        return list(model.objects.order_by("-pk").values_list("pk", flat=True)[:count])

    def _hot_topic(self) -> int | None:
        if not self.hot_topic or self.hot_share <= 0:
            return None
        topic = Topic.objects.filter(name=self.hot_topic).first()
        if topic is None:
            topic = Topic(name=self.hot_topic)
            topic.save()
        return topic.pk

    def _issue_sizes(self, count: int) -> list[int]:
        """Stories per issue, oldest first: small (10) and large issues in
        turn, averaging out to the stories asked for; the newest holds ten."""
        total = self.sizes.stories
        per_issue = max(1, total // max(1, count))
        newest_first = [10 if i % 2 == 0 else max(1, 2 * per_issue - 10) for i in range(count)]
        sizes, left = [], total
        for size in newest_first:
            take = min(size, left)
            sizes.append(take)
            left -= take
        sizes[-1] += left  # what is left joins the oldest issue
        return list(reversed(sizes))

    def _issues(self) -> list[tuple[int, object, int]]:
        """Write the issues, oldest first; returns (id, publish_at, stories)."""
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
        first_id = (Issue.objects.aggregate(m=Max("pk"))["m"] or 0) + 1
        now = timezone.now()
        rows, issues = [], []
        for i, size in enumerate(self._issue_sizes(count)):
            when = now - timedelta(days=count - i, hours=self.random.randint(0, 6))
            headline = self.headline()
            intro = self.paragraph()
            rows.append(
                {
                    "id": first_id + i,
                    "newsletter_id": newsletter.pk,
                    "number": first_number + i,
                    "headline": headline,
                    "slug": slugify(headline)[:200],
                    "intro": intro,
                    "intro_html": render_markdown(intro),
                    "closing_tldr": "",
                    "closing_tldr_html": "",
                    "status": Issue.Status.PUBLISHED,
                    "format": Issue.Format.DIGEST,
                    "publish_at": when,
                    "published_at": when,
                    "created_at": when,
                    "updated_at": when,
                    "version": 1,
                }
            )
            issues.append((first_id + i, when, size))
            if len(rows) == BATCH or i == count - 1:
                write_rows(Issue, rows)
                rows = []
                self.progress("issues", i + 1, count)
        return issues

    def _stories(self, batches: Iterator[Batch]) -> None:
        """Write the stories batch by batch on this connection. Batches are
        made in a thread of their own while the previous one is written, so
        the database and Python work at the same time; memory holds two
        batches at most."""
        prepare_block_vectors(self.blocks)
        done = 0
        for batch in in_background(batches):
            batch.write()
            done += len(batch.stories)
            self.progress("stories", done, self.sizes.stories)

    def _stories_in_parallel(self, batches: Iterator[Batch], writers: int) -> None:
        """Write the stories through several connections at once, one
        transaction each, so the database works on every core (computing the
        search vectors is most of its work). This thread makes the batches;
        memory holds one batch per writer and one in the making. Once any
        writer fails or this thread is interrupted, every writer rolls back
        what it has not committed and stops; the first real error is raised
        here, after all have stopped."""
        queue: Queue = Queue(maxsize=writers)
        failed = Event()
        progress_lock = Lock()
        done = 0

        def next_batch() -> Batch | None:
            while True:
                if failed.is_set():
                    raise LoadAbandoned
                try:
                    return queue.get(timeout=0.2)
                except Empty:
                    continue

        def write() -> None:
            nonlocal done
            try:
                with transaction.atomic():
                    bulk_load_settings()
                    prepare_block_vectors(self.blocks)
                    while (batch := next_batch()) is not None:
                        batch.write()
                        with progress_lock:
                            done += len(batch.stories)
                            self.progress("stories", done, self.sizes.stories)
                    if failed.is_set():  # commit only a load that went through
                        raise LoadAbandoned
            except BaseException:
                failed.set()
                raise
            finally:
                connection.close()  # this thread's own

        def hand_over(item) -> None:
            while not failed.is_set():
                try:
                    queue.put(item, timeout=0.2)
                    return
                except Full:
                    continue

        pool = ThreadPoolExecutor(writers)
        running = [pool.submit(write) for _ in range(writers)]
        try:
            for batch in batches:
                hand_over(batch)
                if failed.is_set():
                    break
            for _ in running:
                hand_over(None)
            wait(running)
        except BaseException:
            failed.set()
            raise
        finally:
            pool.shutdown(wait=True)
        for future in running:
            error = future.exception()
            if error is not None and not isinstance(error, LoadAbandoned):
                raise error

    def _batches(self, first, issues, authors, topics, sources, hot) -> Iterator[Batch]:
        """Rows of the stories, a batch at a time, without touching the database."""
        rng = self.random
        others = [pk for pk in topics if pk != hot]
        batch = Batch()
        n = 0
        for issue_id, when, size in issues:
            for position in range(1, size + 1):
                story_id = first + n
                text = self.story_text(n)
                search_body = text.pop("search_body")
                search_blocks = text.pop("search_blocks")
                created = when - timedelta(hours=rng.randint(2, 72))
                batch.stories.append(
                    {
                        **STORY_CONSTANTS,
                        **text,
                        "id": story_id,
                        "slug": f"{slugify(text['headline'])[:150]}-{story_id}",
                        "created_by_id": rng.choice(authors),
                        "status_changed_at": when,
                        "published_at": when,
                        "listed_at": when,
                        "render_stamp": rng.getrandbits(62),
                        "created_at": created,
                        "updated_at": when,
                    }
                )
                batch.documents.append(
                    (story_id, text["headline"], text["dek"], search_body, when, search_blocks)
                )
                batch.items.append(
                    {"issue_id": issue_id, "story_id": story_id, "position": position}
                )
                chosen = rng.sample(others, k=min(len(others), rng.randint(1, 4))) if others else []
                if hot is not None and rng.random() < self.hot_share:
                    chosen = [hot, *chosen[:3]]
                batch.tags += [{"content_object_id": story_id, "tag_id": t} for t in chosen]
                for place, source in enumerate(
                    rng.sample(sources, k=min(len(sources), rng.randint(1, 3))), 1
                ):
                    batch.citations.append(
                        {
                            "story_id": story_id,
                            "source_id": source,
                            "position": place,
                            "url": f"https://example.com/{story_id}/{place}",
                            "title": rng.choice(self.titles),
                            "note": "",
                        }
                    )
                batch.bylines.append({"story_id": story_id, "user_id": rng.choice(authors)})
                n += 1
                if len(batch.stories) == BATCH:
                    yield batch
                    batch = Batch()
        if batch.stories:
            yield batch


STORY_CONSTANTS = {
    "key_points": "",
    "key_points_html": "",
    "lead_image": "",
    "lead_image_alt": "",
    "lead_image_caption": "",
    "lead_image_credit": "",
    "lead_image_renditions": "{}",
    "status": Story.Status.PUBLISHED,
    "submitted_at": None,
    "version": 1,
}


# The tables a batch of stories is written to, the stories' own first.
STORY_TABLES = (Story, IssueItem, TaggedTopic, Citation, Story.authors.through, SearchDocument)
# And the listing entries made from them once they are in.
LOADED_TABLES = (*STORY_TABLES, ListingEntry)


class LoadAbandoned(Exception):
    """A writer stopped because another one failed."""


def parallel_writers() -> int:
    """How many connections write the stories: one per core (at most four) on
    PostgreSQL when the generator commits its own work; one inside a
    caller's transaction (a test's), whose rows other connections could not
    see, and on SQLite, which writes one transaction at a time."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, min(os.cpu_count() or 1, 4))


class Batch:
    """Rows of a batch of stories, written together."""

    def __init__(self):
        self.stories, self.documents, self.items = [], [], []
        self.tags, self.citations, self.bylines = [], [], []

    def write(self) -> None:
        write_rows(Story, self.stories)
        write_rows(IssueItem, self.items)
        write_rows(TaggedTopic, self.tags)
        write_rows(Citation, self.citations)
        write_rows(Story.authors.through, self.bylines)
        write_search_documents(self.documents)


def in_background(items: Iterator[Batch], ahead: int = 1) -> Iterator[Batch]:
    """items, made in a thread while the caller works on the previous ones."""
    queue: Queue = Queue(maxsize=ahead)
    finished = object()

    def make():
        try:
            for item in items:
                queue.put(item)
        except BaseException as error:  # handed to the caller, raised there
            queue.put(error)
        queue.put(finished)

    thread = Thread(target=make, daemon=True)
    thread.start()
    while (item := queue.get()) is not finished:
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()


def _columns(model, names: Sequence[str]) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


def write_rows(model, rows: list[dict]) -> None:
    """Insert rows (dicts of field name to value, all with the same keys):
    COPY on PostgreSQL, multi-row INSERTs elsewhere."""
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(connection.ops.quote_name(c) for c in _columns(model, names))
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])
            return
        adapt = connection.ops.adapt_datetimefield_value
        values = [
            [adapt(v) if hasattr(v, "tzinfo") else v for v in (row[name] for name in names)]
            for row in rows
        ]
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        per = max(1, 30000 // len(names))
        for start in range(0, len(values), per):
            chunk = values[start : start + per]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * len(chunk)),
                [v for row in chunk for v in row],
            )


STAGING = "bench_search_text"
BLOCKS = "bench_search_blocks"


def prepare_block_vectors(blocks: list[str]) -> None:
    """On PostgreSQL, the tsvector of every pooled block of text, once, for
    write_search_documents to join into each story's vector.

    PostgreSQL numbers the words of a text from 1, stop words included, and
    tsvector || moves the right-hand positions past the left's highest. So
    joining the vectors of blocks gives the vector of the joined text exactly
    when each block ends on a word that is not a stop word, which every
    generated sentence does. tests/test_bench_data.py compares the result
    with the database's own vectors.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # A second run in the same transaction (a test's) finds them there.
        cursor.execute(f"DROP TABLE IF EXISTS {BLOCKS}, {STAGING}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {BLOCKS} (id integer PRIMARY KEY, body text, vector tsvector) "
            "ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE OR REPLACE AGGREGATE pg_temp.bench_tsvector_join (tsvector) "
            "(SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '')"
        )
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (story_id integer, headline text, dek text, "
            "body text, listed_at timestamptz, blocks integer[]) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY {BLOCKS} (id, body) FROM STDIN") as copy:
            for number, text in enumerate(blocks):
                copy.write_row((number, text))
        cursor.execute(
            f"UPDATE {BLOCKS} SET vector = to_tsvector(%s::regconfig, body)",
            [SEARCH_CONFIG],
        )


def write_search_documents(rows: list[tuple]) -> None:
    """Search rows (story id, headline, dek, body, listing date, block
    numbers) as index_stories writes them and, on PostgreSQL, the vectors of
    weighted_vector: headline A, dek B, and the body's blocks joined as C;
    the small rank vector is computed from its lead, the headline vector
    from the headline alone."""
    if connection.vendor != "postgresql":
        write_rows(
            SearchDocument,
            [
                {"story_id": s, "headline": h, "dek": d, "body": b, "listed_at": at}
                for s, h, d, b, at, _ in rows
            ],
        )
        return
    config = f"'{SEARCH_CONFIG}'::regconfig"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # The listing date comes with the row: a join back to the stories
        # would read the whole, growing, table for every batch. The headline's
        # and dek's vectors are computed once (MATERIALIZED) for all three.
        cursor.execute(
            f"WITH s AS MATERIALIZED (SELECT *, to_tsvector({config}, headline) AS h, "
            f"to_tsvector({config}, dek) AS d FROM {STAGING}) "
            f"INSERT INTO {SearchDocument._meta.db_table} "
            "(story_id, headline, dek, body, vector, rank_vector, headline_vector, listed_at) "
            "SELECT s.story_id, s.headline, s.dek, s.body, "
            "setweight(s.h, 'A') || setweight(s.d, 'B') || setweight(("
            "SELECT pg_temp.bench_tsvector_join(b.vector ORDER BY u.n) "
            f"FROM unnest(s.blocks) WITH ORDINALITY AS u(id, n) JOIN {BLOCKS} b ON b.id = u.id"
            "), 'C'), setweight(s.h, 'A') || setweight(s.d, 'B') || "
            f"setweight(to_tsvector({config}, LEFT(s.body, {RANKED_LEAD_CHARS})), 'C'), "
            "s.h, s.listed_at FROM s"
        )
        cursor.execute(f"TRUNCATE {STAGING}")


class DroppedForLoad:
    """On PostgreSQL, when adding at least as many stories as the archive
    holds: the secondary indexes and foreign keys of the tables loaded,
    dropped while the rows go in and made again once they are. One index
    build (sorted, with both cores for a B-tree) and one join per foreign
    key cost far less than keeping the trigram and full-text GIN indexes row
    by row and queueing a deferred check for every row. Unique indexes stay,
    so the rows are held to them as they arrive."""

    def __init__(self, indexes: list[str], keys: list[tuple[str, str, str]]):
        self.indexes = indexes
        self.keys = keys

    @classmethod
    def drop(cls, models, adding: int) -> DroppedForLoad:
        """Drop them, in the caller's transaction."""
        if connection.vendor != "postgresql":
            return cls([], [])
        tables = [model._meta.db_table for model in models]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {quote(tables[0])} LIMIT %s) t", [adding]
            )
            if cursor.fetchone()[0] >= adding:
                return cls([], [])
            # Checks still pending from rows written before (the issues') run
            # now: a table with checks pending can be neither altered nor
            # indexed. Every foreign key here is deferred again at the end.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = "
                "i.schemaname::regnamespace JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.tablename = ANY(%s) AND i.schemaname = current_schema() "
                "AND NOT x.indisunique ORDER BY i.indexname",
                [tables],
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) "
                "ORDER BY conname",
                [tables],
            )
            keys = cursor.fetchall()
            for table, name, _ in keys:
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return cls([definition for _, definition in indexes], keys)

    def restore(self, also: Sequence[Callable[[], None]] = (), threads: int = 1) -> None:
        """Run the jobs in also (work on the loaded rows that is faster with
        no index to keep), then make the indexes and foreign keys again, those
        not there already (a restore after a failed one makes the rest). With
        one thread, all in the caller's transaction; with more, that many
        connections build the indexes at once, the full-text ones first (the
        largest), each statement committed on its own."""
        indexes = sorted(
            (
                definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                for definition in self.indexes
            ),
            key=lambda definition: "USING gin" not in definition,
        )
        if threads == 1:
            for job in also:
                job()
            if not (indexes or self.keys):
                return
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                for statement in [*indexes, *self._keys_to_add()]:
                    cursor.execute(statement)
                # As Django declares every foreign key: checked at commit.
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            return
        in_threads([*also, *(partial(build_index, definition) for definition in indexes)], threads)
        with connection.cursor() as cursor:
            for statement in self._keys_to_add():
                cursor.execute(statement)

    def _keys_to_add(self) -> list[str]:
        """The statements adding the dropped foreign keys not there now."""
        if not self.keys:
            return []
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
            )
            there = set(cursor.fetchall())
        quote = connection.ops.quote_name
        return [
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}"
            for table, name, definition in self.keys
            if (table, name) not in there
        ]


def build_index(definition: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(definition)


def in_threads(jobs: Sequence[Callable[[], None]], threads: int) -> None:
    """Run the jobs, in order, on that many threads, each job on a database
    connection of its own; the first error is raised once all have ended."""

    def run(job) -> None:
        try:
            job()
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, job) for job in jobs]
    for future in futures:
        future.result()


def forget_stories(first_story: int, first_issue: int) -> None:
    """Delete what a load added: the stories from first_story on with every
    row hanging off them, and the issues from first_issue on. By id, so on a
    benchmark database nothing else writes to. The authors, topics and
    sources made for the load stay: a later run makes its own beside them."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for model in reversed(LOADED_TABLES):
            column = "id" if model is Story else story_column(model)
            cursor.execute(
                f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(column)} >= %s",
                [first_story],
            )
        cursor.execute(f"DELETE FROM {quote(Issue._meta.db_table)} WHERE id >= %s", [first_issue])


def story_column(model) -> str:
    """The column of model that points at a story."""
    [field] = [
        field
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Story
    ]
    return field.column


def bulk_load_settings() -> None:
    """On PostgreSQL, for the rest of the transaction: long values are
    compressed with lz4 where the server has it (half of pglz's cost to write
    the stories' and search rows' text, and read back the same way), and no
    statement is compiled by JIT (each batch's would be compiled again)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL default_toast_compression = 'lz4'")


def write_listing_entries(first_story: int) -> None:
    """The listing entries of the stories written (ids from first_story on),
    set-based, from their links and listing dates: through the one writer of
    entries, as the workflow would leave them."""
    ListingEntry.objects.rebuild(Story.objects.filter(pk__gte=first_story))


def reset_sequences(models) -> None:
    """Point id sequences past the ids written explicitly."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def print_progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r{label:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()
