"""Reader traffic on a PostgreSQL read replica (DATABASE_REPLICA_URL).

Readers' pages only read, so they can be answered from a streaming replica
while the primary takes the newsroom's writes. Which requests count as reader
traffic is decided once, by ReaderTrafficMiddleware, and the router below
sends their reads to the "replica" database; everything else (the admin,
any POST, anyone with a session, every write, background tasks and commands)
uses "default", the primary.

People with a session read the primary so an editor always sees their own
change at once; an anonymous reader may see a change a moment late, as long
as replication lags (usually well under a second). Without
DATABASE_REPLICA_URL there is no "replica" database and the router sends
everything to "default".
"""

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

REPLICA = "replica"
_reader_traffic: ContextVar[bool] = ContextVar("reader_traffic", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def reading_for_readers():
    """Reads inside the block go to the replica when there is one."""
    token = _reader_traffic.set(True)
    try:
        yield
    finally:
        _reader_traffic.reset(token)


def is_reader_request(request) -> bool:
    """A request whose answer is a public page: a GET or HEAD outside the
    admin, from a client without a session."""
    return (
        request.method in ("GET", "HEAD")
        and not request.path.startswith("/admin/")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


class ReaderTrafficMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (replica_configured() and is_reader_request(request)):
            return self.get_response(request)
        with reading_for_readers():
            return self.get_response(request)


class ReaderReplicaRouter:
    """Reads of reader traffic go to the replica; all else to the primary."""

    def db_for_read(self, model, **hints):
        if _reader_traffic.get() and replica_configured():
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary.
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
