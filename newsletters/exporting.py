"""CSV export of subscriptions, streamed row by row so a list of any size
leaves the server without being held in memory."""

import csv
from collections.abc import Iterator

from django.utils import timezone

HEADER = [
    "email",
    "name",
    "newsletter",
    "state",
    "source",
    "subscribed_at",
    "confirmed_at",
    "unsubscribed_at",
]
# A spreadsheet runs a cell that starts with one of these as a formula, so a
# name typed into a public form as "=HYPERLINK(...)" would run on the
# exporter's machine. Such cells get a leading apostrophe (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def _when(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def csv_lines(subscriptions) -> Iterator[str]:
    """The header, then one line per subscription of the queryset."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(HEADER)  # the BOM makes Excel read UTF-8
    rows = subscriptions.values_list(
        "subscriber__email",
        "subscriber__name",
        "newsletter__name",
        "state",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
    ).order_by("pk")
    for email, name, newsletter, state, source, created, confirmed, left in rows.iterator(
        chunk_size=2000
    ):
        yield writer.writerow(
            [
                safe_cell(email),
                safe_cell(name),
                safe_cell(newsletter),
                state,
                source,
                _when(created),
                _when(confirmed),
                _when(left),
            ]
        )
