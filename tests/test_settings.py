import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from newsroom import env


def start_up(**variables) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with these variables set."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "newsroom.settings", **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_debug_value_stops_start_up_naming_the_variable():
    result = start_up(DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false" in result.stderr
    assert "'maybe'" in result.stderr


def test_unknown_time_zone_stops_start_up():
    result = start_up(NEWSROOM_TIME_ZONE="Mars/Olympus")
    assert result.returncode != 0
    assert "NEWSROOM_TIME_ZONE must be an IANA time zone" in result.stderr


def test_database_url_with_unknown_scheme_is_refused():
    result = start_up(DATABASE_URL="mysql://root@localhost/db")
    assert result.returncode != 0
    assert "DATABASE_URL must be a sqlite:/// or postgres:// URL" in result.stderr


def test_good_values_start(tmp_path):
    result = start_up(
        DJANGO_DEBUG="false",
        NEWSROOM_TIME_ZONE="Europe/Berlin",
        DJANGO_ALLOWED_HOSTS="news.example,www.news.example",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "raw,expected", [("true", True), ("FALSE", False), ("1", True), ("off", False), ("", True)]
)
def test_env_bool_accepts_plain_answers(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env.env_bool("SOME_FLAG", True) is expected


def test_env_int_refuses_words_and_small_numbers(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "lots")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        env.env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "-3")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env.env_int("SOME_NUMBER", 1, minimum=0)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,, ")
    assert env.env_list("HOSTS", []) == ["a.example", "b.example"]


def test_postgres_url_gets_persistent_checked_connections():
    config = env.env_database("NO_SUCH_VARIABLE", "postgres://root@127.0.0.1:5432/x", 60)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True


def test_storage_is_utc_and_display_is_the_newsroom_zone(settings):
    assert settings.USE_TZ is True
