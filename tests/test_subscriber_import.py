"""CSV import of subscribers (preview, per-row errors, consent basis,
suppression, duplicates, resume) and the streamed CSV export."""

import csv
import io
import time

import pytest

from newsletters import importing
from newsletters.addresses import address_hash
from newsletters.exporting import csv_lines, safe_cell
from newsletters.models import ConsentRecord, Subscriber, SubscriberImport, Subscription
from newsletters.services import suppress_address
from tests.factories import SubscriptionFactory, default_newsletter

pytestmark = pytest.mark.django_db

BASIS = "Signed up at our stand at the 2025 AI conference, on a form offering this newsletter."


def make_job(text: str, **kwargs) -> SubscriberImport:
    return SubscriberImport.objects.create(
        newsletter=kwargs.pop("newsletter", None) or default_newsletter(),
        file_name="list.csv",
        data=text,
        consent_basis=BASIS,
        **kwargs,
    )


def run(text: str) -> SubscriberImport:
    job = make_job(text, status=SubscriberImport.Status.QUEUED)
    assert importing.run_import(job.pk) == "done"
    job.refresh_from_db()
    return job


def test_bad_rows_are_reported_by_line_and_the_rest_imported():
    job = run(
        "email,name\n"
        "ada@example.com,Ada\n"
        "not an address,Bo\n"
        ",Nobody\n"
        "\n"
        "chidi@example.net,\n"
        "dana@,Dana\n"
    )
    assert job.created_count == 2 and job.error_count == 3
    assert [e["line"] for e in job.errors] == [3, 4, 7]
    assert all(e["message"].endswith(".") for e in job.errors)
    assert set(Subscriber.objects.values_list("email", flat=True)) == {
        "ada@example.com",
        "chidi@example.net",
    }
    assert job.data == ""  # the uploaded list is not kept once imported


def test_imported_subscriptions_are_confirmed_with_the_stated_consent_basis():
    job = run("email\nada@example.com\n")
    subscription = Subscription.objects.get()
    assert (subscription.state, subscription.source) == ("confirmed", "import")
    record = ConsentRecord.objects.get()
    assert record.kind == "import" and record.wording == BASIS
    assert record.source == f"Import #{job.pk}: list.csv"


def test_duplicates_in_the_file_and_on_the_list_are_merged():
    SubscriptionFactory(subscriber__email="ada@example.com", state="confirmed")
    pending = SubscriptionFactory(subscriber__email="bo@example.com", state="pending")
    job = run(
        "Email;Name\nADA@example.com;Ada\nbo@example.com;Bo\ncai@example.com;Cai\n"
        " Cai@Example.com ;Cai again\n"
    )
    assert (job.created_count, job.merged_count, job.duplicate_count) == (1, 2, 1)
    assert Subscriber.objects.count() == 3
    pending.refresh_from_db()
    assert pending.state == "confirmed"  # the import's consent basis covers it
    assert Subscriber.objects.get(email="cai@example.com").name == "Cai"


def test_suppressed_and_unsubscribed_addresses_are_never_added_back():
    suppress_address("bounced@example.com", "bounced")
    suppress_address("erased@example.com", "erased")
    SubscriptionFactory(subscriber__email="left@example.com", state="unsubscribed")
    job = run("email\nbounced@example.com\nERASED@example.com\nleft@example.com\nok@example.com\n")
    assert (job.suppressed_count, job.unsubscribed_count, job.created_count) == (2, 1, 1)
    assert not Subscriber.objects.filter(email_hash=address_hash("bounced@example.com")).exists()
    assert not Subscriber.objects.filter(email_hash=address_hash("erased@example.com")).exists()
    assert Subscription.objects.get(subscriber__email="left@example.com").state == "unsubscribed"


def test_the_preview_counts_what_would_happen_and_writes_nothing():
    suppress_address("bounced@example.com", "bounced")
    SubscriptionFactory(subscriber__email="known@example.com", state="confirmed")
    job = make_job(
        "email\nbounced@example.com\nknown@example.com\nnew@example.com\nnope\nnew@example.com\n"
    )
    before = Subscriber.objects.count()
    preview = importing.preview(job)
    assert (preview.new_count, preview.already_count, preview.suppressed_count) == (1, 1, 1)
    assert (preview.error_count, preview.duplicate_count, preview.total) == (1, 1, 5)
    assert [row.email for row in preview.sample] == [
        "bounced@example.com",
        "known@example.com",
        "new@example.com",
    ]
    assert Subscriber.objects.count() == before


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        (b"", "The file is empty."),
        (b"name,phone\nAda,123\n", "must name the columns"),
        ("email\nad\u00e9@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"email\nada@example.com\x00\n", "NUL characters"),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_sentence(raw, sentence):
    with pytest.raises(importing.ImportProblem, match=sentence):
        importing.check_header(importing.decode(raw))


def test_a_bom_and_quoted_fields_are_read():
    job = run('\ufeff"email","name"\n"ada@example.com","Reader, Ada"\n')
    assert job.created_count == 1
    assert Subscriber.objects.get().name == "Reader, Ada"


def test_an_import_run_twice_or_resumed_adds_nobody_twice(monkeypatch):
    monkeypatch.setattr(importing, "BATCH", 2)
    text = "email\n" + "".join(f"r{n}@example.com\n" for n in range(7))
    job = make_job(text, status=SubscriberImport.Status.QUEUED)
    # A worker killed after its second batch left this behind:
    real_write = importing._write_batch
    calls = []

    def dies_on_third(job, rows, now):
        calls.append(rows)
        if len(calls) == 3:
            raise KeyboardInterrupt("worker killed")
        return real_write(job, rows, now)

    monkeypatch.setattr(importing, "_write_batch", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        importing.run_import(job.pk)
    job.refresh_from_db()
    assert job.processed_rows == 4 and Subscriber.objects.count() == 4
    monkeypatch.setattr(importing, "_write_batch", real_write)
    assert importing.run_import(job.pk) == "done"
    assert importing.run_import(job.pk) == "done"  # a second delivery of the task
    job.refresh_from_db()
    assert (job.created_count, job.processed_rows) == (7, 7)
    assert Subscriber.objects.count() == Subscription.objects.count() == 7
    assert ConsentRecord.objects.count() == 7


def test_export_streams_every_subscription_and_defuses_formulas():
    SubscriptionFactory(subscriber__email="ada@example.com", subscriber__name="=HYPERLINK(1)")
    SubscriptionFactory(subscriber__email="bo@example.com", subscriber__name="Bo", state="pending")
    rows = list(csv.reader(io.StringIO("".join(csv_lines(Subscription.objects.all())))))
    assert rows[0][0] == "\ufeffemail"
    assert [row[:4] for row in rows[1:]] == [
        ["ada@example.com", "'=HYPERLINK(1)", "The Newsroom", "confirmed"],
        ["bo@example.com", "Bo", "The Newsroom", "pending"],
    ]
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)" and safe_cell("plain") == "plain"


@pytest.mark.postgres
def test_a_100000_row_import_counts_every_row_on_postgresql(on_postgres):
    # Its time is printed, not asserted: timings belong to benchmarks, not tests.
    rows = "".join(f"reader{n}@example.com,Reader {n}\n" for n in range(100_000))
    # A few that must be caught on the way.
    suppress_address("reader5@example.com", "bounced")
    text = "email,name\n" + rows + "reader7@example.com,again\nbroken,row\n"
    job = make_job(text, status=SubscriberImport.Status.QUEUED)
    started = time.monotonic()
    assert importing.run_import(job.pk) == "done"
    elapsed = time.monotonic() - started
    job.refresh_from_db()
    print(f"\n100,000-row import: {elapsed:.1f} s")
    assert (job.created_count, job.suppressed_count) == (99_999, 1)
    assert (job.duplicate_count, job.error_count) == (1, 1)
    assert Subscription.objects.filter(state="confirmed").count() == 99_999
