"""/healthz and /readyz: what a load balancer asks before sending readers."""

import pytest
from axes.models import AccessAttempt
from django.db import OperationalError, connection


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django makes any database access raise here,
    # so a 200 proves the process answers even while the database is down.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_a_reachable_database(client, django_assert_num_queries):
    # One query: the issues with a publication time outside the span.
    with django_assert_num_queries(1):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "times": "ok"}


@pytest.mark.django_db
def test_readyz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/healthz/", "/readyz/"])
def test_probes_are_never_cached(client, path):
    response = client.get(path)
    assert response.status_code == 200
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control and "max-age=0" in cache_control
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_probes_answer_a_balancer_that_uses_an_unknown_host_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["news.example"]
    for path in ("/healthz", "/readyz"):
        response = client.get(path, HTTP_HOST="10.0.3.17:8000")
        assert response.status_code == 200, path
    # Ordinary pages still refuse the unknown host.
    assert client.get("/", HTTP_HOST="10.0.3.17:8000").status_code == 400


@pytest.mark.django_db
def test_probes_set_no_cookies_and_need_no_csrf_token(settings):
    from django.test import Client

    csrf_checking = Client(enforce_csrf_checks=True)
    response = csrf_checking.get("/readyz")
    assert response.cookies == {}
    # A POST is refused as a wrong method, not as a CSRF failure.
    assert csrf_checking.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_probes_never_count_as_login_attempts(client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert client.get("/healthz").status_code == 200
    assert not AccessAttempt.objects.exists()
