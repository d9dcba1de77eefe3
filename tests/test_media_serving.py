"""Uploads served by the app itself when NEWSROOM_SERVE_MEDIA is on (`make run`)."""

import importlib

import pytest
from django.urls import clear_url_caches

import newsroom.urls


@pytest.fixture
def media_urls(settings, tmp_path):
    """Rebuild the URLs with uploads served or not; rebuilt afterwards from the
    values the settings had before, whatever the suite runs with."""
    before = settings.NEWSROOM_SERVE_MEDIA, settings.MEDIA_ROOT

    def load(serve: bool):
        settings.NEWSROOM_SERVE_MEDIA = serve
        settings.MEDIA_ROOT = tmp_path
        importlib.reload(newsroom.urls)
        clear_url_caches()

    yield load
    settings.NEWSROOM_SERVE_MEDIA, settings.MEDIA_ROOT = before
    importlib.reload(newsroom.urls)
    clear_url_caches()


def test_uploads_are_served_with_debug_off_when_asked(client, settings, tmp_path, media_urls):
    settings.DEBUG = False
    (tmp_path / "lead-images").mkdir()
    (tmp_path / "lead-images" / "photo.txt").write_text("pixels")
    media_urls(serve=True)
    response = client.get("/media/lead-images/photo.txt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"pixels"


def test_uploads_are_left_to_the_web_server_by_default(client, settings, tmp_path, media_urls):
    (tmp_path / "photo.txt").write_text("pixels")
    media_urls(serve=False)
    assert client.get("/media/photo.txt").status_code == 404
