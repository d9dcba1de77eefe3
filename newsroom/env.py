"""Strict readers for settings that come from the environment.

Each helper either returns a valid value or stops start-up with a sentence
that names the variable and says what it accepts, so a typo in production
never silently becomes a default.
"""

import os
import zoneinfo
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be true or false (also accepted: 1/0, yes/no, on/off), not {raw!r}."
    )


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
    return value


def env_float(
    name: str, default: float, minimum: float | None = None, maximum: float | None = None
) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number such as 0.001, not {raw!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {raw!r}.")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_hosts(name: str, default: list[str]) -> list[str]:
    """Host names as ALLOWED_HOSTS takes them: no scheme or path."""
    hosts = env_list(name, default)
    for host in hosts:
        if "://" in host or "/" in host or " " in host:
            raise ImproperlyConfigured(
                f"{name} must list host names separated by commas, such as "
                f"'news.example.com,.example.org', without a scheme or path, not {host!r}."
            )
    return hosts


def env_url(name: str, schemes: set[str], example: str) -> str:
    """An optional URL whose scheme must be one of schemes; empty when unset."""
    raw = os.environ.get(name, "").strip()
    scheme, separator, _ = raw.partition("://")
    if raw and (not separator or scheme.lower() not in schemes):
        allowed = ", ".join(f"{scheme}://" for scheme in sorted(schemes))
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {allowed} (e.g. {example!r}), not {raw!r}."
        )
    return raw


def env_path(name: str, default: str) -> Path:
    """An absolute folder path; a relative one would depend on where the server starts."""
    raw = os.environ.get(name, "").strip() or default
    path = Path(raw)
    if not path.is_absolute():
        raise ImproperlyConfigured(
            f"{name} must be an absolute path such as /srv/media, not {raw!r}."
        )
    return path


def env_email(name: str, default: str) -> str:
    """A sender address, bare or with a display name: 'The Newsroom <news@example.com>'."""
    from email.utils import parseaddr

    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    raw = os.environ.get(name, "").strip() or default
    _, address = parseaddr(raw)
    try:
        validate_email(address)
    except ValidationError:
        raise ImproperlyConfigured(
            f"{name} must be an email address such as 'news@example.com' or "
            f"'The Newsroom <news@example.com>', not {raw!r}."
        ) from None
    return raw


def env_dotted_path(name: str, default: str) -> str:
    """A Python path to a class, such as 'anymail.backends.postmark.EmailBackend'.

    Only its shape and its top-level package are checked here: importing it
    would load Django parts before the settings exist."""
    import importlib.util
    import re

    raw = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", raw):
        raise ImproperlyConfigured(
            f"{name} must be a Python path to a class, such as "
            f"'django.core.mail.backends.smtp.EmailBackend', not {raw!r}."
        )
    package = raw.split(".", 1)[0]
    if importlib.util.find_spec(package) is None:
        raise ImproperlyConfigured(
            f"{name} names {raw!r}, but the package {package!r} is not installed."
        )
    return raw


def env_prefixed(prefix: str) -> dict[str, str | bool]:
    """Every variable whose name starts with prefix, under the rest of its name:
    ANYMAIL_POSTMARK_SERVER_TOKEN=... gives {"POSTMARK_SERVER_TOKEN": "..."}.
    true and false (any case) become booleans, as the settings they set expect."""
    values: dict[str, str | bool] = {}
    for name, raw in sorted(os.environ.items()):
        if name.startswith(prefix) and len(name) > len(prefix):
            lowered = raw.strip().lower()
            values[name[len(prefix) :]] = {"true": True, "false": False}.get(lowered, raw)
    return values


def env_choice(name: str, default: str, choices: set[str]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise ImproperlyConfigured(f"{name} must be one of {allowed}, not {raw!r}.")
    return value


def env_time_zone(name: str, default: str) -> str:
    value = os.environ.get(name) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be an IANA time zone such as 'Europe/London' or "
            f"'America/New_York', not {value!r}."
        ) from None
    return value


def env_database(name: str, default: str, conn_max_age: int, connect_timeout: int = 5) -> dict:
    import dj_database_url

    url = os.environ.get(name) or default
    scheme = url.split(":", 1)[0]
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name} must be a sqlite:/// or postgres:// URL, not one starting {scheme!r}."
        )
    try:
        config = dj_database_url.parse(url)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"{name} is not a valid database URL ({error}); expected e.g. "
            "postgres://user:password@host:5432/name or sqlite:////absolute/path.db."
        ) from None
    if config["ENGINE"] == "django.db.backends.postgresql":
        # Persistent connections, checked before reuse so a restarted database
        # costs one failed request per worker instead of a worker restart.
        config["CONN_MAX_AGE"] = conn_max_age
        config["CONN_HEALTH_CHECKS"] = True
        # Fail fast when the database host is unreachable instead of holding
        # a worker for the kernel's TCP timeout; /readyz relies on it too.
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", connect_timeout)
        # Parameters sent apart from the SQL. Statements are not prepared
        # (Django's default, prepare_threshold unset): a prepared statement
        # soon runs on PostgreSQL's generic plan, which cannot see how many
        # stories a topic or a search word holds, and at archive scale made
        # topic pages three times slower, more than skipping the planning
        # saved on the story and issue pages.
        config["OPTIONS"].setdefault("server_side_binding", True)
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    return config


# SQLite shared by several processes (`make run` runs the web server, a task
# worker and the scheduler against one file):
# - WAL lets readers go on while one connection writes, and NORMAL syncing is
#   safe with it (a power cut may lose the last commits, never corrupt);
# - a writer that finds the database busy waits up to `timeout` seconds for
#   its turn instead of failing with "database is locked";
# - IMMEDIATE transactions take the write lock when they begin. A transaction
#   that reads and then writes would otherwise ask for the lock halfway, and
#   SQLite refuses that at once, without waiting, whenever another connection
#   wrote in between.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
}
