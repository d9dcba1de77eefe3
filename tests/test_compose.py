"""compose.yaml, checked without a Docker engine: its shape and its wiring."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
NEWSROOM = ("migrate", "app", "worker", "scheduler")


def interpolate(value: str, variables: dict) -> str:
    """Compose's ${NAME:-default} and ${NAME:?error}, enough for this file."""

    def replace(match):
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise KeyError(f"{name}: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", replace, value)


def environment(service: str, **variables) -> dict:
    return {k: interpolate(str(v), variables) for k, v in SERVICES[service]["environment"].items()}


def test_compose_runs_app_worker_scheduler_and_migrations_on_postgres_and_redis():
    assert set(SERVICES) == {"migrate", "app", "worker", "scheduler", "db", "redis"}
    for name in NEWSROOM:
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["image"] == "newsroom:latest"
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert SERVICES["worker"]["command"] == ["python", "manage.py", "run_worker"]
    assert SERVICES["scheduler"]["command"] == ["python", "manage.py", "run_scheduler"]
    # The app runs the image's own command: gunicorn with gunicorn.conf.py.
    assert "command" not in SERVICES["app"]


def test_app_worker_and_scheduler_wait_for_migrations_and_healthy_services():
    for name in ("app", "worker", "scheduler"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(SERVICES["app"]["healthcheck"]["test"])


def test_every_newsroom_service_reaches_the_same_database_cache_and_media():
    db = SERVICES["db"]["environment"]
    user, password_default, name = db["POSTGRES_USER"], "newsroom", db["POSTGRES_DB"]
    for service in NEWSROOM:
        env = environment(service, DJANGO_SECRET_KEY="s")
        assert env["DATABASE_URL"] == f"postgres://{user}:{password_default}@db:5432/{name}"
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert "media:/app/media" in SERVICES[service]["volumes"]
    # One password variable feeds both sides.
    assert environment("app", DJANGO_SECRET_KEY="s", POSTGRES_PASSWORD="pw")[
        "DATABASE_URL"
    ].startswith("postgres://newsroom:pw@db:")
    assert interpolate(db["POSTGRES_PASSWORD"], {"POSTGRES_PASSWORD": "pw"}) == "pw"


def test_compose_refuses_to_start_without_a_secret_key():
    try:
        environment("app")
    except KeyError as error:
        assert "DJANGO_SECRET_KEY" in str(error)
    else:
        raise AssertionError("the app started without DJANGO_SECRET_KEY")


def test_the_app_environment_passes_the_settings_strict_checks():
    env = environment("app", DJANGO_SECRET_KEY="a-long-random-value-for-this-test-only-123456")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NEWSROOM_"))}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['HOST'], s.DATABASES['default']['CONN_HEALTH_CHECKS'], "
        "s.CACHES['default']['BACKEND'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "newsroom.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "db",
        "True",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_the_worker_and_the_scheduler_finish_what_they_are_doing_before_they_stop():
    for name in ("worker", "scheduler"):
        assert SERVICES[name]["stop_grace_period"] == "60s"
        assert SERVICES[name]["healthcheck"] == {"disable": True}


def test_every_newsroom_service_sends_mail_through_the_configured_server():
    for service in NEWSROOM:
        env = environment(service, DJANGO_SECRET_KEY="s")
        assert env["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
        assert (env["EMAIL_HOST"], env["EMAIL_PORT"]) == ("localhost", "25")
    relay = {"EMAIL_HOST": "smtp.example.net", "EMAIL_PORT": "587", "EMAIL_USE_TLS": "true"}
    env = environment("worker", DJANGO_SECRET_KEY="s", **relay)
    assert {name: env[name] for name in relay} == relay


def test_volumes_keep_the_database_and_uploads():
    assert set(COMPOSE["volumes"]) == {"pgdata", "media"}
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]
