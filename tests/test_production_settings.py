"""Production settings: the deploy check, security headers, cookies, logs, media storage."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.log import log_response
from django.utils.module_loading import import_string

from newsroom.logs import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent

# The variables the README's "Deployment" section tells a production server to set.
PRODUCTION = {
    "DJANGO_SECRET_KEY": "k3Jq9-vT2xLp8sWz4nRb7yHc1mFd6gAe5uKo0iQj-production-like",
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "news.example",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://news.example",
    "DJANGO_BEHIND_PROXY": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
    "DATABASE_URL": "postgres://newsroom@db.internal:5432/newsroom",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "NEWSROOM_SITE_URL": "https://news.example",
}


def python(*args, **variables) -> subprocess.CompletedProcess:
    """Run Python in the project with exactly these Newsroom variables set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "NEWSROOM_", "REDIS_", "DATABASE_"))
    }
    clean["DJANGO_SETTINGS_MODULE"] = "newsroom.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(*args, **variables) -> subprocess.CompletedProcess:
    return python("manage.py", *args, **variables)


def setting(name: str, **variables):
    """The value of one setting as production would compute it, read in a subprocess."""
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps(settings.{name}))"
    )
    result = python("-c", code, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_deploy_check_is_clean_with_the_documented_production_variables():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_every_production_variable_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    deployment = readme.split("## Deployment", 1)[1]
    for name in PRODUCTION:
        assert f"`{name}`" in deployment, f"{name} is missing from the README's Deployment section"


def test_deploy_check_warns_when_servers_do_not_share_a_cache():
    variables = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode != 0
    assert "newsroom.W002" in result.stderr
    assert "Set REDIS_URL" in result.stderr


def test_deploy_check_warns_when_the_policy_allows_inline_scripts():
    variables = {**PRODUCTION, "NEWSROOM_CSP": "default-src 'self' 'unsafe-inline'"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode != 0
    assert "newsroom.W004" in result.stderr
    assert "NEWSROOM_CSP lets inline scripts run" in result.stderr


def test_deploy_check_wants_hsts_and_https_redirects():
    left_out = {"DJANGO_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT"}
    variables = {k: v for k, v in PRODUCTION.items() if k not in left_out}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_the_policy_can_be_replaced_from_the_environment():
    policy = "default-src 'self'; img-src 'self' https://images.example"
    assert setting("NEWSROOM_CSP", NEWSROOM_CSP=policy) == policy
    # The admin follows the public policy unless given its own.
    assert setting("NEWSROOM_ADMIN_CSP", NEWSROOM_CSP=policy) == policy


def test_a_bad_log_format_stops_start_up_naming_the_variable():
    result = manage("check", NEWSROOM_LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "NEWSROOM_LOG_FORMAT must be one of json, plain, not 'xml'" in result.stderr


@pytest.mark.django_db
def test_public_pages_carry_the_security_headers(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self' data: https:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_hsts_is_off_until_configured(client):
    response = client.get("/", secure=True)
    assert "Strict-Transport-Security" not in response


@pytest.mark.django_db
def test_the_admin_gets_its_own_policy_and_the_public_pages_keep_theirs(client, settings):
    settings.NEWSROOM_ADMIN_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'"
    admin_page = client.get("/admin/login/")
    public_page = client.get("/")
    assert admin_page["Content-Security-Policy"] == settings.NEWSROOM_ADMIN_CSP
    assert public_page["Content-Security-Policy"] == settings.NEWSROOM_CSP


@pytest.mark.django_db
def test_report_only_mode_sends_the_policy_without_enforcing_it(client, settings):
    settings.NEWSROOM_CSP_REPORT_ONLY = True
    response = client.get("/")
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"] == settings.NEWSROOM_CSP


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_and_session_is_http_only(client, editor):
    login_page = client.get("/admin/login/")
    csrf_cookie = login_page.cookies["csrftoken"]
    assert csrf_cookie["secure"] and csrf_cookie["samesite"] == "Lax"
    response = client.post(
        "/admin/login/",
        {"username": "editor", "password": "correct horse battery", "next": "/admin/"},
    )
    assert response.status_code == 302
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"]
    assert session_cookie["samesite"] == "Lax"


def test_cookies_are_secure_by_default_outside_debug():
    assert setting("SESSION_COOKIE_SECURE") is True
    assert setting("CSRF_COOKIE_SECURE") is True
    assert setting("SESSION_COOKIE_SECURE", DJANGO_DEBUG="true") is False


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for():
    assert setting("SECURE_PROXY_SSL_HEADER", DJANGO_BEHIND_PROXY="true") == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]
    assert setting("NEWSROOM_PROXY_COUNT", DJANGO_BEHIND_PROXY="true") == 1
    assert setting("NEWSROOM_PROXY_COUNT") == 0


def test_json_logs_are_one_object_per_line_with_the_traceback():
    try:
        raise ValueError("database went away")
    except ValueError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Failed %s", ("GET /",), sys.exc_info()
        )
    record.status_code = 500
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "django.request"
    assert entry["message"] == "Failed GET /"
    assert entry["status"] == 500
    assert "ValueError: database went away" in entry["exception"]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", entry["time"])


@pytest.fixture
def console(settings):
    """What the configured console handler prints of django.request, built
    from LOGGING's own formatter and filters, written to a string."""
    stream = io.StringIO()
    config = settings.LOGGING
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(config["formatters"]["plain"]["format"]))
    for name in config["handlers"]["stdout"]["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_a_refused_request_logs_one_line_without_a_traceback(client, writer, console):
    client.force_login(writer)
    assert client.get("/admin/stories/newsletter/").status_code == 403
    printed = console.getvalue()
    assert "WARNING django.request Forbidden (Permission denied): /admin/stories/newsletter/" in (
        printed
    )
    assert "Traceback" not in printed and printed.count("\n") == 1


def test_a_server_error_keeps_its_traceback(console):
    try:
        raise ValueError("database went away")
    except ValueError as error:
        log_response(
            "Internal Server Error: %s",
            "/",
            response=HttpResponse(status=500),
            request=RequestFactory().get("/"),
            exception=error,
        )
    printed = console.getvalue()
    assert "ERROR django.request Internal Server Error: /" in printed
    assert "Traceback" in printed and "ValueError: database went away" in printed


def test_gunicorn_access_lines_become_fields():
    atoms = {"h": "10.0.0.9", "m": "GET", "U": "/issues/3/", "q": "", "s": 200, "M": 12, "B": 5120}
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(m)s %(U)s" %(s)s', atoms, None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '10.0.0.9 "GET /issues/3/" 200'
    assert entry["path"] == "/issues/3/" and entry["status"] == 200
    assert entry["duration_ms"] == 12 and "query" not in entry


def test_production_logs_are_json_and_development_logs_are_plain():
    assert setting("LOG_FORMAT") == "json"
    assert setting("LOG_FORMAT", DJANGO_DEBUG="true") == "plain"
    assert setting("LOG_FORMAT", NEWSROOM_LOG_FORMAT="plain") == "plain"


def test_media_stays_on_the_filesystem_unless_a_bucket_is_configured():
    storages = setting("STORAGES")
    assert storages["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"


def test_a_bucket_puts_media_on_s3_compatible_storage(tmp_path):
    # django-storages is an optional extra (the image installs it); a stand-in
    # package lets the settings be read without it.
    (tmp_path / "storages").mkdir()
    (tmp_path / "storages" / "__init__.py").write_text("")
    storages = setting(
        "STORAGES",
        PYTHONPATH=str(tmp_path),
        NEWSROOM_S3_BUCKET="newsroom-media",
        NEWSROOM_S3_ENDPOINT_URL="https://s3.eu-central.example",
        NEWSROOM_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        NEWSROOM_S3_SECRET_ACCESS_KEY="secret",
        NEWSROOM_S3_SIGNED_URLS="false",
    )
    media = storages["default"]
    assert media["BACKEND"] == "storages.backends.s3.S3Storage"
    assert media["OPTIONS"]["bucket_name"] == "newsroom-media"
    assert media["OPTIONS"]["endpoint_url"] == "https://s3.eu-central.example"
    assert media["OPTIONS"]["access_key"] == "AKIAEXAMPLE"
    assert media["OPTIONS"]["querystring_auth"] is False
    assert media["OPTIONS"]["file_overwrite"] is False


def test_a_bucket_without_django_storages_stops_start_up_with_the_fix():
    result = manage("check", NEWSROOM_S3_BUCKET="newsroom-media")
    if result.returncode == 0:
        pytest.skip("django-storages is installed here")
    assert "NEWSROOM_S3_BUCKET is set but django-storages is not installed" in result.stderr
