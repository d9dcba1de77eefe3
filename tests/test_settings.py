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


@pytest.mark.parametrize(
    ("raw", "sentence"),
    [
        ("a tenth", "must be a number such as 0.001"),
        ("nan", "must be a finite number"),
        ("inf", "must be a finite number"),
        ("1.5", "must be at most 1.0"),
        ("-0.1", "must be at least 0.0"),
    ],
)
def test_env_float_refuses_words_and_numbers_out_of_range(monkeypatch, raw, sentence):
    monkeypatch.setenv("SOME_RATE", raw)
    with pytest.raises(ImproperlyConfigured, match=f"SOME_RATE {sentence}"):
        env.env_float("SOME_RATE", 0.5, minimum=0.0, maximum=1.0)
    monkeypatch.setenv("SOME_RATE", "0.002")
    assert env.env_float("SOME_RATE", 0.5, minimum=0.0, maximum=1.0) == 0.002


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,, ")
    assert env.env_list("HOSTS", []) == ["a.example", "b.example"]


def test_postgres_url_gets_persistent_checked_connections():
    config = env.env_database("NO_SUCH_VARIABLE", "postgres://root@127.0.0.1:5432/x", 60)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["OPTIONS"]["server_side_binding"] is True
    assert "prepare_threshold" not in config["OPTIONS"]  # see the next test


def test_storage_is_utc_and_display_is_the_newsroom_zone(settings):
    assert settings.USE_TZ is True


@pytest.mark.parametrize(
    "variable,value,sentence",
    [
        (
            "DJANGO_ALLOWED_HOSTS",
            "https://news.example",
            "DJANGO_ALLOWED_HOSTS must list host names",
        ),
        ("DJANGO_ALLOWED_HOSTS", "news.example/admin", "DJANGO_ALLOWED_HOSTS must list host names"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must be a URL starting with redis://"),
        ("REDIS_URL", "http://cache.internal", "REDIS_URL must be a URL starting with redis://"),
        ("DJANGO_MEDIA_ROOT", "media", "DJANGO_MEDIA_ROOT must be an absolute path"),
        ("DJANGO_STATIC_ROOT", "./static", "DJANGO_STATIC_ROOT must be an absolute path"),
        (
            "DATABASE_URL",
            "postgres://root@db:port/news",
            "DATABASE_URL is not a valid database URL",
        ),
        ("NEWSROOM_PAGE_CACHE_SECONDS", "five", "NEWSROOM_PAGE_CACHE_SECONDS must be a whole"),
        ("DJANGO_SECURE_COOKIES", "perhaps", "DJANGO_SECURE_COOKIES must be true or false"),
    ],
)
def test_each_bad_value_stops_start_up_with_a_sentence_naming_its_variable(
    variable, value, sentence
):
    result = start_up(**{variable: value})
    assert result.returncode != 0
    assert sentence in result.stderr
    assert repr(value) in result.stderr or variable == "DATABASE_URL"


def test_the_newsroom_zone_is_the_display_zone_and_storage_stays_utc():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "from django.utils import timezone; "
            "print(settings.TIME_ZONE, settings.USE_TZ, timezone.now().tzname())",
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "newsroom.settings",
            "NEWSROOM_TIME_ZONE": "America/New_York",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["America/New_York", "True", "UTC"], result.stderr


def test_good_redis_and_paths_start(tmp_path):
    result = start_up(
        REDIS_URL="redis://127.0.0.1:6379/0",
        DJANGO_MEDIA_ROOT=str(tmp_path / "media"),
        DJANGO_ALLOWED_HOSTS=".news.example,localhost",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_postgres_never_runs_a_page_query_on_a_generic_plan(on_postgres):
    """Statements are not prepared, so each is planned for its own values (a
    prepared one soon gets a generic plan; see newsroom/env.py)."""
    from stories.models import Issue

    for number in range(8):
        list(Issue.objects.filter(number=number))
    with on_postgres.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)
