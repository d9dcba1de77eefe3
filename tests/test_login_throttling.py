"""Login throttling on the admin (django-axes), through the real admin login form."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.utils import timezone

PASSWORD = "correct horse battery"
READER = "203.0.113.7"


def sign_in(client, username, password, address=READER, **headers):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
        **headers,
    )


def fail(client, username, times, address=READER, **headers):
    """Wrong passwords that are still answered with the login form."""
    for _ in range(times):
        response = sign_in(client, username, "wrong password", address, **headers)
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()


def lock_out(client, settings, username, address=READER, **headers):
    fail(client, username, settings.AXES_FAILURE_LIMIT - 1, address, **headers)
    # The failure that reaches the limit is answered with the lockout page.
    assert sign_in(client, username, "wrong password", address, **headers).status_code == 429


@pytest.mark.django_db
def test_editor_is_locked_out_after_the_failure_limit_even_with_the_right_password(
    client, editor, settings
):
    lock_out(client, settings, "editor")
    response = sign_in(client, "editor", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get(username="editor", ip_address=READER)
    # The limit, plus the right password tried during the lockout.
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT + 1


@pytest.mark.django_db
def test_lockout_page_looks_like_the_admin_and_says_what_to_do(client, editor, settings):
    lock_out(client, settings, "editor")
    response = sign_in(client, "editor", PASSWORD)
    page = response.content.decode()
    text = " ".join(page.split())
    assert response.status_code == 429
    assert '<div id="site-name"><a href="/admin/">The Newsroom admin</a></div>' in page
    assert "<title>Too many failed sign-ins | The Newsroom</title>" in page
    assert f"After {settings.AXES_FAILURE_LIMIT} wrong passwords in a row" in text
    assert "is paused for 15 minutes" in text
    assert "axes_reset_username" in page
    # Nothing from the login form: no field to keep guessing in.
    assert 'name="password"' not in page


@pytest.mark.django_db
def test_one_failure_short_of_the_limit_still_signs_in_and_clears_the_count(
    client, editor, settings
):
    fail(client, "editor", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "editor", PASSWORD).status_code == 302
    client.logout()
    fail(client, "editor", settings.AXES_FAILURE_LIMIT - 1)
    assert sign_in(client, "editor", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lockout_ends_after_the_cool_off(client, editor, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        lock_out(client, settings, "editor")
    with time_machine.travel(start + timedelta(minutes=14), tick=False):
        assert sign_in(client, "editor", PASSWORD).status_code == 429
    # That attempt restarted the quarter of an hour.
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert sign_in(client, "editor", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lockout_of_one_address_leaves_the_same_user_elsewhere_and_other_users_alone(
    client, editor, writer, settings
):
    lock_out(client, settings, "editor")
    assert sign_in(client, "writer", PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, "editor", PASSWORD, address="198.51.100.20").status_code == 302


@pytest.mark.django_db
def test_behind_a_proxy_each_reader_address_is_throttled_on_its_own(client, editor, settings):
    settings.NEWSROOM_PROXY_COUNT = 1
    balancer = "10.0.0.2"
    # The balancer appends the address it saw; what the client sent stays to its left.
    lock_out(client, settings, "editor", balancer, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {READER}")
    assert AccessAttempt.objects.get().ip_address == READER
    other_reader = sign_in(
        client, "editor", PASSWORD, balancer, HTTP_X_FORWARDED_FOR="198.51.100.20"
    )
    assert other_reader.status_code == 302
    client.logout()
    # Forging a different first entry does not escape the lockout.
    forged_header = f"9.9.9.9, {READER}"
    forged = sign_in(client, "editor", PASSWORD, balancer, HTTP_X_FORWARDED_FOR=forged_header)
    assert forged.status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("length", [256, 5000])
def test_a_username_longer_than_the_lockout_stores_still_counts_towards_it(
    client, settings, length
):
    # django-axes keeps 255 characters; PostgreSQL refused a longer one, so
    # such sign-ins failed with a 500 and were never counted.
    username = "e" * length
    lock_out(client, settings, username)
    attempt = AccessAttempt.objects.get(ip_address=READER)
    assert attempt.username == username[:255]
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT
    # Still locked out, whatever follows the first 255 characters.
    assert sign_in(client, username[:255] + "another ending", PASSWORD).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_page", ["https://evil.example/admin/", "//evil.example/", "javascript:alert(1)"]
)
def test_a_refused_next_page_after_signing_in_lands_on_the_admin_index(client, editor, next_page):
    response = client.post(
        "/admin/login/", {"username": "editor", "password": PASSWORD, "next": next_page}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get(response["Location"]).status_code == 200
