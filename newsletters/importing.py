"""CSV imports of subscribers: read, preview, then write in batches.

A file is read twice: once for the preview (nothing written but the upload),
then by a task that writes it in batches of BATCH rows. Each batch commits
together with the import's progress, so a worker killed midway resumes at the
first unwritten row, and a batch run twice finds its rows already there.

Rules, each applied to every row:
- the address is normalised (newsletters.addresses); a row whose address is
  not valid is reported with its line number and not imported;
- a suppressed address (bounced, complained, erased, blocked) is skipped;
- an address repeated in the file is imported once (the first name given wins);
- an address already confirmed on the newsletter is left as it is, a pending
  one is confirmed (the import's stated consent basis covers it), and one that
  unsubscribed stays unsubscribed: an import never overrides an opt-out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from newsletters.addresses import InvalidAddress, address_hash, normalize_email
from newsletters.bulk import (
    db_datetime,
    insert_confirmed_subscriptions,
    insert_consents,
    insert_subscribers,
)
from newsletters.models import (
    Subscriber,
    SubscriberImport,
    Subscription,
    Suppression,
)
from newsletters.models.subscribers import ConsentKind, SubscriptionSource

State = Subscription.State
BATCH = 5000
MAX_BYTES = 25 * 1024 * 1024
MAX_ERRORS_KEPT = 500
EMAIL_HEADERS = {"email", "e-mail", "email address", "e-mail address", "mail", "address"}
NAME_HEADERS = {"name", "full name", "full_name"}


class ImportProblem(Exception):
    """The file as a whole cannot be imported; the message says why."""


@dataclass
class Row:
    line: int
    email: str
    name: str


@dataclass
class ParsedFile:
    rows: list[Row] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    duplicate_count: int = 0

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append({"line": line, "message": message})


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise ImportProblem(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it into smaller files."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblem(
            "The file is not UTF-8 text. Save it as 'CSV UTF-8' from your spreadsheet and "
            "upload it again."
        ) from None


def _reader(text: str) -> Iterator[list[str]]:
    text = text.removeprefix("\ufeff")  # a byte-order mark some spreadsheets write
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text, newline=""), dialect)


def _columns(reader) -> tuple[int, int | None]:
    """The email and name columns named by the header line."""
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ImportProblem(f"The first line cannot be read as CSV: {error}.") from None
    if not header:
        raise ImportProblem("The file is empty.")
    columns = [cell.strip().lower() for cell in header]
    email_col = next((i for i, c in enumerate(columns) if c in EMAIL_HEADERS), None)
    name_col = next((i for i, c in enumerate(columns) if c in NAME_HEADERS), None)
    if email_col is None:
        raise ImportProblem(
            "The first line must name the columns, one of them 'email' (and optionally "
            "'name'); this file's first line is: " + ", ".join(header)[:200] + "."
        )
    return email_col, name_col


def check_header(text: str) -> None:
    """ImportProblem unless text is CSV text whose first line names an email column."""
    if "\x00" in text:
        raise ImportProblem("The file holds NUL characters, so it is not a CSV text file.")
    _columns(_reader(text))


def parse(text: str) -> ParsedFile:
    """Every row of a CSV file with an email column (and optionally a name
    column), normalised and de-duplicated, with a sentence for each bad row."""
    if "\x00" in text:
        raise ImportProblem("The file holds NUL characters, so it is not a CSV text file.")
    reader = _reader(text)
    email_col, name_col = _columns(reader)
    parsed = ParsedFile()
    seen: set[str] = set()
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            line = reader.line_num
            parsed.error(line, f"This line cannot be read as CSV: {error}.")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are not rows
        if email_col >= len(cells):
            parsed.error(line, "This row has no email address.")
            continue
        try:
            email = normalize_email(cells[email_col])
        except InvalidAddress as problem:
            parsed.error(line, f"{problem} (found {cells[email_col].strip()[:80]!r}).")
            continue
        name = cells[name_col].strip() if name_col is not None and name_col < len(cells) else ""
        if any(ord(ch) < 32 for ch in name):
            parsed.error(line, "The name holds control characters.")
            continue
        if email in seen:
            parsed.duplicate_count += 1
            continue
        seen.add(email)
        parsed.rows.append(Row(line, email, name[:200]))
    return parsed


@dataclass
class Preview:
    total: int
    sample: list[Row]
    errors: list[dict]
    error_count: int
    duplicate_count: int
    new_count: int
    already_count: int
    pending_count: int
    unsubscribed_count: int
    suppressed_count: int


def _classify(rows: list[Row], newsletter_id: int) -> dict[str, str]:
    """For each address of rows: suppressed, confirmed, pending, unsubscribed or new."""
    hashes = {address_hash(row.email): row.email for row in rows}
    found = {}
    for email_hash in Suppression.objects.filter(email_hash__in=hashes).values_list(
        "email_hash", flat=True
    ):
        found[hashes[email_hash]] = "suppressed"
    # Two lookups, each on one table's index, rather than a join: a join's
    # plan rests on the tables' statistics, which lag behind an import that
    # has just added thousands of rows (on an empty list they say "empty",
    # and the join then runs in quadratic time).
    by_id = dict(Subscriber.objects.filter(email_hash__in=hashes).values_list("pk", "email_hash"))
    states = Subscription.objects.filter(
        newsletter_id=newsletter_id, subscriber_id__in=by_id
    ).values_list("subscriber_id", "state")
    for subscriber_id, state in states:
        found.setdefault(hashes[by_id[subscriber_id]], state)
    return {row.email: found.get(row.email, "new") for row in rows}


def preview(job: SubscriberImport) -> Preview:
    parsed = parse(job.data)
    counts = {"new": 0, "confirmed": 0, "pending": 0, "unsubscribed": 0, "suppressed": 0}
    for start in range(0, len(parsed.rows), BATCH):
        for kind in _classify(parsed.rows[start : start + BATCH], job.newsletter_id).values():
            counts[kind] += 1
    return Preview(
        total=len(parsed.rows) + parsed.error_count + parsed.duplicate_count,
        sample=parsed.rows[:10],
        errors=parsed.errors,
        error_count=parsed.error_count,
        duplicate_count=parsed.duplicate_count,
        new_count=counts["new"],
        already_count=counts["confirmed"],
        pending_count=counts["pending"],
        unsubscribed_count=counts["unsubscribed"],
        suppressed_count=counts["suppressed"],
    )


def _write_batch(job: SubscriberImport, rows: list[Row], now) -> dict[str, int]:
    """Write one batch; return what happened to its rows."""
    kinds = _classify(rows, job.newsletter_id)
    counts = {"created": 0, "merged": 0, "suppressed": 0, "unsubscribed": 0}
    wanted = []
    for row in rows:
        kind = kinds[row.email]
        if kind == "suppressed":
            counts["suppressed"] += 1
        elif kind == "unsubscribed":
            counts["unsubscribed"] += 1
        elif kind == "confirmed":
            counts["merged"] += 1
        else:
            wanted.append(row)
    if not wanted:
        return counts
    # Subscribers: new addresses are created, known ones reused (a name is
    # kept as it was). Rows go in as plain tuples (newsletters/bulk.py).
    by_hash = {address_hash(row.email): row for row in wanted}
    at = db_datetime(now)
    insert_subscribers(
        [(row.email, email_hash, row.name) for email_hash, row in by_hash.items()],
        at,
        skip_conflicts=True,
    )
    ids = dict(Subscriber.objects.filter(email_hash__in=by_hash).values_list("email_hash", "pk"))
    # Subscriptions: pending ones are confirmed; missing ones created.
    pending = list(
        Subscription.objects.filter(
            newsletter_id=job.newsletter_id, subscriber_id__in=ids.values(), state=State.PENDING
        ).values_list("pk", "subscriber_id")
    )
    if pending:
        Subscription.objects.filter(pk__in=[pk for pk, _ in pending]).update(
            state=State.CONFIRMED, state_changed_at=now, confirmed_at=now
        )
    pending_subscribers = {subscriber_id for _, subscriber_id in pending}
    created = insert_confirmed_subscriptions(
        [sid for sid in ids.values() if sid not in pending_subscribers],
        job.newsletter_id,
        SubscriptionSource.IMPORT.value,
        at,
        # A subscription made meanwhile by a signup is left to it.
        skip_conflicts=True,
    )
    subscription_ids = created + [pk for pk, _ in pending]
    source = f"Import #{job.pk}: {job.file_name}"[:300]
    insert_consents(subscription_ids, ConsentKind.IMPORT.value, source, job.consent_basis, at)
    counts["created"] += len(created)
    counts["merged"] += len(pending)
    return counts


def _commit_without_waiting_for_disk() -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL is
    flushed to disk. Safe here: a crash can lose only the last batches
    together with the progress that counts them, and the import resumes at
    the first row it no longer finds counted."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def run_import(import_id: int) -> str:
    """Run (or resume) a queued import. Returns its final status."""
    with transaction.atomic():
        job = SubscriberImport.objects.select_for_update().filter(pk=import_id).first()
        if job is None or job.status not in (
            SubscriberImport.Status.QUEUED,
            SubscriberImport.Status.RUNNING,
        ):
            return job.status if job else "gone"
        job.status = SubscriberImport.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "started_at"])
    try:
        parsed = parse(job.data)
    except ImportProblem as problem:
        SubscriberImport.objects.filter(pk=job.pk).update(
            status=SubscriberImport.Status.FAILED, failure=str(problem), finished_at=timezone.now()
        )
        return SubscriberImport.Status.FAILED
    rows = parsed.rows
    SubscriberImport.objects.filter(pk=job.pk).update(total_rows=len(rows))
    now = timezone.now()
    start = job.processed_rows
    while start < len(rows):
        batch = rows[start : start + BATCH]
        for attempt in range(2):
            try:
                with transaction.atomic():
                    _commit_without_waiting_for_disk()
                    job = SubscriberImport.objects.select_for_update().get(pk=job.pk)
                    if job.processed_rows != start:
                        break  # another worker wrote this batch
                    counts = _write_batch(job, batch, now)
                    job.processed_rows = start + len(batch)
                    job.created_count += counts["created"]
                    job.merged_count += counts["merged"]
                    job.suppressed_count += counts["suppressed"]
                    job.unsubscribed_count += counts["unsubscribed"]
                    job.save(
                        update_fields=[
                            "processed_rows",
                            "created_count",
                            "merged_count",
                            "suppressed_count",
                            "unsubscribed_count",
                        ]
                    )
                break
            except IntegrityError:
                # A signup of one of these addresses landed meanwhile: read
                # the batch again and merge it.
                if attempt:
                    raise
        job.refresh_from_db(fields=["processed_rows"])
        start = job.processed_rows
    SubscriberImport.objects.filter(pk=job.pk).update(
        status=SubscriberImport.Status.DONE,
        finished_at=timezone.now(),
        total_rows=len(rows),
        error_count=parsed.error_count,
        duplicate_count=parsed.duplicate_count,
        errors=parsed.errors,
        # The subscribers are the record now; the list itself is not kept.
        data="",
    )
    return SubscriberImport.Status.DONE
