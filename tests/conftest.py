import os

import pytest
from django.core.cache import cache

from devtools.smtp import MailHandler, SMTPServer
from tests.factories import ensure_editorial_groups, user_in
from tests.process_helpers import ROOT, project_environment


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The production hasher is slow on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _page_cache_off_unless_asked(request, settings):
    """Pages are tested without the server-side page cache, which tests of
    the cache itself switch on with the `page_cache` marker or fixture.

    Test transactions never commit, so the invalidation that runs on commit in
    production would not run between a test's requests."""
    settings.NEWSROOM_PAGE_CACHE = request.node.get_closest_marker("page_cache") is not None


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings):
    """Tasks run where they are enqueued (after the commit that queues them),
    rather than waiting for a worker."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def smtp_inbox(settings):
    """Mail goes out through Django's SMTP backend to a real SMTP server
    running in this process; the fixture is its inbox (tests/smtp.py)."""
    from tests.smtp import SmtpServer

    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server.inbox


@pytest.fixture
def page_cache(settings):
    settings.NEWSROOM_PAGE_CACHE = True


@pytest.fixture(autouse=True)
def _tasks_run_immediately_unless_asked(request, settings):
    """Tasks run where they are enqueued, unless a test asks for the database
    backend with the `database_tasks` marker: then they wait as rows for a
    worker, as in production."""
    backend = "database" if request.node.get_closest_marker("database_tasks") else "immediate"
    settings.TASKS = {"default": {"BACKEND": settings.NEWSROOM_TASKS_BACKENDS[backend]}}


@pytest.fixture(scope="session")
def _smtp_server():
    with SMTPServer(MailHandler()) as server:
        yield server


@pytest.fixture
def smtp_server(_smtp_server, settings):
    """A real SMTP server on 127.0.0.1 that keeps what it receives, with Django's
    SMTP backend pointed at it (the tests otherwise use the locmem outbox).

    `smtp_server.messages` lists what arrived (`CaughtMessage`: envelope,
    parsed message, raw bytes, which connection carried it);
    `smtp_server.wait_for(n)` waits for mail sent by another thread or process
    (`smtp_server.environment` points a subprocess at the server);
    `smtp_server.refuse(address, "550 5.1.1 No such user", times=None)` makes it
    answer a recipient as a real server would. Emptied before each test."""
    _smtp_server.handler.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = _smtp_server.host
    settings.EMAIL_PORT = _smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield SMTPFixture(_smtp_server)
    _smtp_server.handler.reset()


class SMTPFixture:
    def __init__(self, server: SMTPServer):
        self.host, self.port = server.host, server.port
        self.handler = server.handler

    @property
    def messages(self):
        return self.handler.messages

    def wait_for(self, count: int, timeout: float = 10.0):
        return self.handler.wait_for(count, timeout)

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user", times=None):
        self.handler.refuse(address, reply, times)

    @property
    def environment(self) -> dict[str, str]:
        """Variables that send a subprocess's mail here."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_USE_SSL": "false",
        }


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def writer(db):
    return user_in("Writers", username="writer")


@pytest.fixture
def other_writer(db):
    return user_in("Writers", username="other-writer")


@pytest.fixture
def editor(db):
    return user_in("Editors", username="editor")


@pytest.fixture
def publisher(db):
    return user_in("Publishers", username="publisher")


@pytest.fixture
def on_postgres(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    return connection


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (no downloaded browser builds)."""
    from playwright.sync_api import sync_playwright

    executable = "/usr/bin/chromium"
    if not os.path.exists(executable):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing at /usr/bin/chromium; .ci/run installs it.")
        pytest.skip("Chromium is not installed: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make around it are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def editorial_groups(db):
    """The Writers, Editors and Publishers groups (see tests.factories)."""
    ensure_editorial_groups()


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    """A migrated SQLite file, made once per run for the tests that start
    real processes (the in-memory test database is out of their reach)."""
    import subprocess
    import sys

    path = tmp_path_factory.mktemp("sqlite") / "migrated.sqlite3"
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env={**project_environment(), "DATABASE_URL": f"sqlite:///{path}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def sqlite_file(_migrated_sqlite, tmp_path):
    """This test's own copy of a migrated SQLite database file."""
    import shutil

    path = tmp_path / "newsroom.sqlite3"
    shutil.copyfile(_migrated_sqlite, path)
    return path


# What decides how the project installs; a change to any of them runs the
# packaging tests wherever the suite runs.
PACKAGING_FILES = ("pyproject.toml", "manage.py", "newsroom/__main__.py", "Dockerfile")


def _packaging_files_changed() -> bool:
    """Uncommitted changes to the packaging files, or a last commit touching them."""
    import subprocess

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else ""

    return bool(
        git("status", "--porcelain", "--", *PACKAGING_FILES).strip()
        or git("diff", "--name-only", "HEAD~1", "HEAD", "--", *PACKAGING_FILES).strip()
    )


def _on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config, items):
    """What runs once per CI run rather than on each database's leg.

    - The wheel is built on the PostgreSQL leg: it tests the package, not the
      database (and wherever the packaging files change).
    - The Chromium tests run on the SQLite leg: they test pages and forms,
      which the database does not change, and the PostgreSQL leg carries the
      tests only it can run (row locks, killed workers, the replica, 100,000
      rows), so each leg stays well inside its time.
    NEWSROOM_PACKAGING_TEST=1 and NEWSROOM_BROWSER_TESTS=1 run them anywhere."""
    on_postgres = _on_postgres()
    packaging = [item for item in items if item.get_closest_marker("packaging")]
    if (
        packaging
        and os.environ.get("NEWSROOM_PACKAGING_TEST") != "1"
        and not on_postgres
        and not _packaging_files_changed()
    ):
        skip = pytest.mark.skip(
            reason="the wheel is built on the PostgreSQL leg or when packaging files change "
            "(NEWSROOM_PACKAGING_TEST=1 builds it here)"
        )
        for item in packaging:
            item.add_marker(skip)
    if on_postgres and os.environ.get("NEWSROOM_BROWSER_TESTS") != "1":
        skip = pytest.mark.skip(
            reason="Chromium tests run once, on the SQLite leg (NEWSROOM_BROWSER_TESTS=1 runs "
            "them here)"
        )
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(skip)
