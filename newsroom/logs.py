"""Structured logs: one JSON object per line on stdout.

Log collectors (journald, Docker, Loki, CloudWatch...) read stdout; one JSON
object per line keeps multi-line tracebacks together and makes fields such as
status or path searchable without parsing prose. Used by Django's LOGGING
and by gunicorn.conf.py for gunicorn's own and access logs.
"""

import json
import logging
from datetime import UTC, datetime

# gunicorn's access-log atoms worth a field of their own.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    entry[field] = int(value) if field == "status" else value
        status = getattr(record, "status_code", None)
        if status is not None:
            entry["status"] = status
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            entry["method"] = getattr(request, "method", None)
            entry["path"] = request.path
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keeps a 4xx answer's warning to its one line.

    Django logs a refused request (403, 400, 404 from an exception) with the
    exception's traceback, which reads as a crash in a console full of them.
    A 4xx is the site working as meant, so its record keeps its message,
    status and path and loses the traceback; a 5xx keeps its traceback, the
    one thing needed to fix it."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
