"""The project installs as a package: the wheel holds every subpackage,
migration, template and static file, and an installed copy runs on its own.

Building and installing a wheel takes a few seconds, so these tests run once
per CI run (on the PostgreSQL leg), whenever the packaging files have changed,
or with NEWSROOM_PACKAGING_TEST=1 (see `packaging` in conftest.py)."""

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.process_helpers import ROOT, project_environment

pytestmark = pytest.mark.packaging

APPS = ("newsroom", "stories", "newsletters")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (built,) = out.glob("newsroom-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed into a folder of its own (dependencies come from
    this virtualenv, as a clean one would get them from the index)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target)]
        + [str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return target


def source_files(folder: str, pattern: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob(pattern)
        if "__pycache__" not in path.parts and path.is_file()
    }


def tracked(paths: set[str]) -> set[str]:
    """Of these paths, those git tracks (local leftovers are not the project's)."""
    listed = subprocess.run(
        ["git", "ls-files", "--", *sorted(paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return set(listed)


def test_the_wheel_holds_every_subpackage_and_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = tracked(set().union(*(source_files(app, "*.py") for app in APPS)))
    assert any(name.startswith("stories/migrations/0001") for name in modules)
    assert modules - names == set()


def test_the_wheel_holds_every_template_and_static_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = tracked(source_files("newsroom/templates", "*") | source_files("newsroom/static", "*"))
    assert "newsroom/templates/stories/story_detail.html" in assets
    assert "newsroom/static/css/site.css" in assets
    assert assets - names == set()


def test_the_wheel_leaves_out_tests_and_development_tools(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {*APPS, "newsroom-0.1.0.dist-info"}


def run_installed(installed: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """A process that imports the installed copy only: started outside the
    checkout, on a SQLite file of its own."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=home,
        env=project_environment(PYTHONPATH=str(installed), DJANGO_SECRET_KEY="packaging-test"),
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_an_installed_copy_checks_migrates_and_serves_pages(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    check = run_installed(installed, home, "-m", "newsroom", "check")
    assert check.returncode == 0, check.stderr
    migrate = run_installed(installed, home, "-m", "newsroom", "migrate", "--no-input", "-v0")
    assert migrate.returncode == 0, migrate.stderr
    # Local state lands where the installed project runs, never in site-packages.
    assert (home / "db.sqlite3").exists()
    assert not (installed / "db.sqlite3").exists()
    probe = textwrap.dedent(
        """
        import django
        django.setup()
        import newsroom
        from django.contrib.staticfiles import finders
        from django.test import Client
        print(newsroom.__file__)
        print(finders.find("css/site.css"))
        home = Client().get("/")
        print(home.status_code, "/static/css/site.css" in home.text)
        print(Client().get("/admin/login/").status_code)
        """
    )
    served = run_installed(installed, home, "-c", probe)
    assert served.returncode == 0, served.stderr
    module, stylesheet, page, login = served.stdout.splitlines()
    assert module.startswith(str(installed))
    assert stylesheet.startswith(str(installed))
    assert page == "200 True"
    assert login == "200"
