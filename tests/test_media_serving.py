"""Uploads served by the app itself when NEWSROOM_SERVE_MEDIA is on (`make run`)."""

import importlib

import pytest
from django.urls import clear_url_caches

import newsroom.urls
from tests.reader_helpers import image_bytes


@pytest.fixture
def media_urls(settings, tmp_path):
    """Rebuild the URLs with uploads served or not; rebuilt afterwards from the
    values the settings had before, whatever the suite runs with."""
    before = settings.NEWSROOM_SERVE_MEDIA, settings.MEDIA_ROOT

    def load(serve: bool, root=tmp_path):
        settings.NEWSROOM_SERVE_MEDIA = serve
        settings.MEDIA_ROOT = root
        importlib.reload(newsroom.urls)
        clear_url_caches()

    yield load
    settings.NEWSROOM_SERVE_MEDIA, settings.MEDIA_ROOT = before
    importlib.reload(newsroom.urls)
    clear_url_caches()


def test_uploads_are_served_with_debug_off_when_asked(client, settings, tmp_path, media_urls):
    settings.DEBUG = False
    (tmp_path / "lead-images").mkdir()
    (tmp_path / "lead-images" / "photo.png").write_bytes(image_bytes(20, 10, fmt="PNG"))
    media_urls(serve=True)
    response = client.get("/media/lead-images/photo.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes(20, 10, fmt="PNG")


@pytest.mark.parametrize(
    "name, fmt, media_type",
    [
        ("chart.pdf", "PNG", "image/png"),
        ("clip.mpg", "GIF", "image/gif"),
        ("photo.png", "JPEG", "image/jpeg"),
        ("photo.webp.gz", "WEBP", "image/webp"),
    ],
)
def test_an_upload_is_served_as_the_format_its_bytes_are_in_whatever_its_name(
    client, tmp_path, media_urls, name, fmt, media_type
):
    """Files stored before names followed content keep their old names."""
    (tmp_path / name).write_bytes(image_bytes(20, 10, fmt=fmt))
    media_urls(serve=True)
    response = client.get(f"/media/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in response


@pytest.mark.parametrize(
    "name, content",
    [
        ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        ("notes.txt", b"pixels"),
        ("empty.png", b""),
    ],
)
def test_files_that_are_not_accepted_images_are_not_served(
    client, tmp_path, media_urls, name, content
):
    (tmp_path / name).write_bytes(content)
    media_urls(serve=True)
    assert client.get(f"/media/{name}").status_code == 404


def test_nothing_outside_the_media_directory_or_a_directory_itself_is_served(
    client, tmp_path, media_urls
):
    (tmp_path / "media").mkdir()
    (tmp_path / "secret.png").write_bytes(image_bytes(20, 10, fmt="PNG"))
    (tmp_path / "media" / "lead-images").mkdir()
    media_urls(serve=True, root=tmp_path / "media")
    for path in ["/media/..%2fsecret.png", "/media/../secret.png", "/media/lead-images/"]:
        assert client.get(path).status_code == 404, path


def test_uploads_are_left_to_the_web_server_by_default(client, settings, tmp_path, media_urls):
    (tmp_path / "photo.txt").write_text("pixels")
    media_urls(serve=False)
    assert client.get("/media/photo.txt").status_code == 404


def test_served_uploads_may_be_cached_and_revalidated(client, settings, tmp_path, media_urls):
    (tmp_path / "lead-images").mkdir()
    (tmp_path / "lead-images" / "photo.png").write_bytes(image_bytes(20, 10, fmt="PNG"))
    media_urls(serve=True)
    response = client.get("/media/lead-images/photo.png")
    assert response.status_code == 200
    assert "public" in response["Cache-Control"]
    assert "max-age=86400" in response["Cache-Control"]
    again = client.get(
        "/media/lead-images/photo.png", headers={"if-modified-since": response["Last-Modified"]}
    )
    assert again.status_code == 304
    assert "max-age=86400" in again["Cache-Control"]
