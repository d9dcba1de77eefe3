"""Compressed responses: public pages and feeds yes, anything holding a
secret (a CSRF token, a session) or an image no."""

import gzip

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse

from newsroom.compression import may_compress
from tests.factories import published_issue

pytestmark = pytest.mark.django_db

GZIP = {"accept-encoding": "gzip, deflate, br"}


def test_public_pages_and_feeds_are_compressed_for_clients_that_accept_it(client):
    issue = published_issue(2)
    for url in ["/", issue.get_absolute_url(), "/issues/", "/feeds/issues.json"]:
        plain = client.get(url)
        compressed = client.get(url, headers=GZIP)
        assert compressed["Content-Encoding"] == "gzip", url
        assert "Accept-Encoding" in compressed["Vary"]
        assert gzip.decompress(compressed.content) == plain.content
        assert "Content-Encoding" not in plain


def test_a_page_with_a_csrf_token_is_never_compressed(client):
    response = client.get(reverse("admin:login"), headers=GZIP)
    assert response.status_code == 200 and b"csrfmiddlewaretoken" in response.content
    assert "Content-Encoding" not in response


def test_staff_pages_are_never_compressed(client):
    staff = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(staff)
    response = client.get(reverse("admin:index"), headers=GZIP)
    assert response.status_code == 200
    assert "Content-Encoding" not in response


def test_a_public_looking_response_that_printed_a_csrf_token_is_not_compressed(rf):
    request = rf.get("/")
    page = HttpResponse("<p>" + "a form " * 100 + "</p>")
    assert may_compress(request, page)
    get_token(request)
    assert not may_compress(request, page)


def test_images_are_not_compressed(rf):
    assert not may_compress(rf.get("/"), HttpResponse(b"\x89PNG", content_type="image/png"))


def test_a_compressed_page_still_answers_its_etag_with_not_modified(client):
    published_issue(1)
    first = client.get("/", headers=GZIP)
    assert first["Content-Encoding"] == "gzip" and first["ETag"].startswith('W/"')
    again = client.get("/", headers={**GZIP, "if-none-match": first["ETag"]})
    assert again.status_code == 304
