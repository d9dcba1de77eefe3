"""What can be checked of the container image without a Docker engine."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions():
    lines = []
    for raw in DOCKERFILE.replace("\\\n", " ").splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            keyword, _, rest = raw.strip().partition(" ")
            lines.append((keyword.upper(), rest.strip()))
    return lines


def test_dockerfile_has_two_stages_on_python_311():
    stages = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert len(stages) == 2
    assert all(s.startswith("python:3.11") for s in stages)
    assert stages[0].endswith("AS build")


def test_dockerfile_collects_static_at_build_time_and_runs_as_non_root():
    run_lines = [rest for keyword, rest in instructions() if keyword == "RUN"]
    assert any("manage.py collectstatic" in line for line in run_lines)
    users = [rest for keyword, rest in instructions() if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    final_stage = DOCKERFILE.split("FROM python:3.11-slim\n", 1)[1]
    assert "USER newsroom" in final_stage


def test_dockerfile_serves_wsgi_with_gunicorn_config():
    cmd = [rest for keyword, rest in instructions() if keyword == "CMD"][-1]
    assert "gunicorn" in cmd and "newsroom.wsgi" in cmd and "gunicorn.conf.py" in cmd


def gunicorn_settings(*names: str, **environment: str) -> subprocess.CompletedProcess:
    """Load gunicorn.conf.py as gunicorn does, with these variables set, and
    print the named settings."""
    code = f"import runpy; c = runpy.run_path('gunicorn.conf.py'); print(*(c[n] for n in {names}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
    )


SHARED_CACHE = "redis://cache.internal:6379/0"


def test_gunicorn_takes_workers_from_the_environment():
    out = gunicorn_settings("workers", GUNICORN_WORKERS="7", REDIS_URL=SHARED_CACHE)
    assert out.stdout.split() == ["7"]


def test_gunicorn_runs_a_worker_per_core_with_a_shared_cache_and_one_without():
    with_redis = gunicorn_settings("workers", REDIS_URL=SHARED_CACHE).stdout.split()
    assert with_redis == [str(os.cpu_count() + 1)]
    assert gunicorn_settings("workers", REDIS_URL="").stdout.split() == ["1"]
    assert gunicorn_settings("workers", REDIS_URL="", GUNICORN_WORKERS="1").stdout.split() == ["1"]


def test_gunicorn_refuses_several_workers_without_a_shared_cache_with_a_sentence():
    # Each worker would keep its own page cache: a story withdrawn through one
    # worker would still be served by the others.
    out = gunicorn_settings("workers", GUNICORN_WORKERS="3", REDIS_URL="")
    assert out.returncode != 0
    assert "GUNICORN_WORKERS is 3, but REDIS_URL is not set" in out.stderr
    assert "Set REDIS_URL to a Redis server every worker shares, or run one worker" in out.stderr


def test_the_image_alone_runs_one_worker_and_with_redis_one_per_core():
    image_environment = {}
    for keyword, rest in instructions():
        if keyword == "ENV":
            for assignment in rest.split():
                name, _, value = assignment.partition("=")
                image_environment[name] = value
    clean = {"REDIS_URL": "", "GUNICORN_WORKERS": ""}
    assert gunicorn_settings("workers", **clean, **image_environment).stdout.split() == ["1"]
    shared = {**image_environment, "REDIS_URL": SHARED_CACHE}
    assert gunicorn_settings("workers", **shared).stdout.split() == [str(os.cpu_count() + 1)]


@pytest.mark.parametrize("value", ["lots", "0", "-2", "²"])
def test_a_bad_worker_count_stops_gunicorn_with_a_sentence(value):
    out = gunicorn_settings("workers", GUNICORN_WORKERS=value, REDIS_URL=SHARED_CACHE)
    assert out.returncode != 0
    assert f"GUNICORN_WORKERS must be a whole number of at least 1, not {value!r}." in out.stderr


def test_gunicorn_takes_zero_where_it_means_no_limit():
    out = gunicorn_settings(
        "max_requests", "timeout", GUNICORN_MAX_REQUESTS="0", GUNICORN_TIMEOUT="0"
    )
    assert out.stdout.split() == ["0", "0"]


def test_image_requirements_come_from_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("gunicorn") for d in project["dependencies"])
    assert "optional-dependencies" in project and "s3" in project["optional-dependencies"]
    assert "tomllib" in DOCKERFILE


def test_collectstatic_works_as_in_the_image(tmp_path):
    assert "NEWSROOM_STATIC_MANIFEST=true" in DOCKERFILE
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_STATIC_ROOT": str(tmp_path),
            "DJANGO_SECRET_KEY": "x",
            "NEWSROOM_STATIC_MANIFEST": "true",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("css/site.*.css"))


def test_image_leaves_local_state_out_and_checks_its_own_health():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".venv", "db.sqlite3", ".secret_key", ".demo-password", "media", ".git"):
        assert path in ignored
    healthcheck = [rest for keyword, rest in instructions() if keyword == "HEALTHCHECK"]
    assert healthcheck and "/healthz" in healthcheck[-1]


def test_gunicorn_logs_json_in_production_and_plain_when_debugging():
    code = "import runpy; print('logconfig_dict' in runpy.run_path('gunicorn.conf.py'))"

    def json_logs(**variables):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NEWSROOM_"))}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**clean, **variables},
            check=True,
        )
        return out.stdout.strip() == "True"

    assert json_logs() is True
    assert json_logs(DJANGO_DEBUG="true") is False
    assert json_logs(NEWSROOM_LOG_FORMAT="plain") is False


def test_make_run_serves_as_readers_see_it_and_links_to_its_own_port():
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8321"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "NEWSROOM_SITE_URL=${NEWSROOM_SITE_URL:-http://127.0.0.1:8321}" in out
    assert "DJANGO_DEBUG=${DJANGO_DEBUG:-false}" in out
    # The web server, a worker, the scheduler and the mail catcher, together.
    assert "scripts/run_dev.py --host 127.0.0.1 --port 8321 --mail-port 1025" in out
    assert "var/mail/" in out
