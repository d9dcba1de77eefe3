"""What import-linter cannot say (its contracts, in pyproject.toml, see only
the project's own packages and the top of outside ones): production code
never imports Django's test tools, and no signal receiver of the project
hides what follows a change."""

import ast
import weakref

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import signals

from stories.models import (
    Citation,
    Contributor,
    Correction,
    GuestByline,
    Issue,
    Newsletter,
    Section,
    Source,
    Story,
    TaggedTopic,
    Topic,
)
from stories.publishing import fragments
from stories.publishing.changes import (
    IssueChangesFollow,
    ShownThingChangesFollow,
    StoryChangesFollow,
    StoryRowChangesFollow,
)
from tests.process_helpers import ROOT

PRODUCTION = ("newsroom", "stories", "newsletters")


def imported_modules(path) -> set[str]:
    """Every module path imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_production_code_never_imports_django_test_tools():
    modules = [path for app in PRODUCTION for path in (ROOT / app).rglob("*.py")]
    assert len(modules) > 100
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[:2] == ["django", "test"]
        )
        for path in modules
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_scan_sees_imports_made_inside_functions(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from django.test.utils import override_settings\n")
    assert imported_modules(module) == {"django.test.utils"}


# -- what follows a change is said by the action, not by a receiver -----------

MODEL_SIGNALS = ("pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed")


def project_receivers(signal) -> list[str]:
    """The functions of the project's own packages connected to signal."""
    found = []
    for _key, receiver, _is_async in signal.receivers:
        if isinstance(receiver, weakref.ReferenceType):
            receiver = receiver()
        module = getattr(receiver, "__module__", None) or ""
        if module.split(".")[0] in PRODUCTION:
            found.append(f"{module}.{receiver.__qualname__}")
    return sorted(found)


def test_no_receiver_of_the_project_hides_a_rule_behind_a_model_signal():
    """An action says what follows it through stories/publishing/changes.py;
    a model signal would do it unseen, for some writes and not others."""
    connected = {name: project_receivers(getattr(signals, name)) for name in MODEL_SIGNALS}
    assert {name: found for name, found in connected.items() if found} == {}


def test_the_receiver_scan_sees_a_receiver_of_the_project():
    def receiver(**kwargs):
        pass

    receiver.__module__ = "stories.publishing.example"
    signals.post_save.connect(receiver, sender=Source, dispatch_uid="architecture-test")
    try:
        assert project_receivers(signals.post_save) == [
            f"stories.publishing.example.{receiver.__qualname__}"
        ]
    finally:
        signals.post_save.disconnect(sender=Source, dispatch_uid="architecture-test")


def test_every_admin_of_what_public_pages_print_goes_through_the_changes_module():
    """A save or delete in the admin of anything the rendered fragments or
    the cached pages print ends in stories/publishing/changes.py."""
    follows = {
        Story: StoryChangesFollow,
        Issue: IssueChangesFollow,
        Correction: StoryRowChangesFollow,
        # Rows a story prints, were one ever given an admin page of its own.
        Citation: StoryRowChangesFollow,
        GuestByline: StoryRowChangesFollow,
        TaggedTopic: StoryRowChangesFollow,
        **dict.fromkeys(fragments.SHOWN, ShownThingChangesFollow),
        get_user_model(): ShownThingChangesFollow,
    }
    assert {Source, Topic, Contributor, Section, Newsletter} <= set(follows)
    registered = admin.site._registry
    assert {Story, Issue, Correction, Source, get_user_model()} <= set(registered)
    astray = {
        model.__name__: type(registered[model]).__name__
        for model, mixin in follows.items()
        if model in registered and not isinstance(registered[model], mixin)
    }
    assert astray == {}
