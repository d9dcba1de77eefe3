"""The roles as migration 0002 creates them, read without the test helper
that rebuilds the groups (tests.factories.ensure_editorial_groups): a broken
migration must fail here, not be papered over."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db

# The roles, spelled out here rather than imported from the migration.
EXPECTED = {
    "Writers": {
        "add_story", "change_story", "view_story",
        "add_citation", "change_citation", "delete_citation", "view_citation",
        "add_taggedtopic", "change_taggedtopic", "delete_taggedtopic", "view_taggedtopic",
        "view_source", "add_source", "view_topic", "view_issue",
    },
    "Editors": {
        "add_story", "change_story", "view_story", "edit_any_story", "review_story",
        "withdraw_story",
        "add_citation", "change_citation", "delete_citation", "view_citation",
        "add_taggedtopic", "change_taggedtopic", "delete_taggedtopic", "view_taggedtopic",
        "add_source", "change_source", "view_source",
        "add_topic", "change_topic", "view_topic",
        "add_issue", "change_issue", "view_issue",
        "add_issueitem", "change_issueitem", "delete_issueitem", "view_issueitem",
        "add_correction", "change_correction", "view_correction",
        "add_previewlink", "change_previewlink", "view_previewlink",
        "view_auditentry", "view_storyrevision",
    },
    "Publishers": {
        "view_story", "view_issue", "view_issueitem", "publish_issue", "view_auditentry",
        "view_source", "view_topic", "view_citation", "view_correction",
    },
}  # fmt: skip

MIGRATION = ("stories", "0002_editorial_groups")


def groups_as_stored() -> dict[str, set[str]]:
    return {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.prefetch_related("permissions")
    }


def expected() -> dict[str, set[str]]:
    return {name: {f"stories.{c}" for c in codenames} for name, codenames in EXPECTED.items()}


def test_migration_0002_is_applied_to_the_test_database():
    applied = MigrationExecutor(connection).loader.applied_migrations
    assert MIGRATION in applied


def test_migration_0002_creates_exactly_the_editorial_groups_on_a_fresh_database():
    """Run the migration's own operation on a database without the groups or
    the newsroom's permissions, with the models as they were at 0002."""
    Group.objects.all().delete()
    Permission.objects.filter(content_type__app_label="stories").delete()
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(MIGRATION, at_end=True)
    (operation,) = executor.loader.get_migration(*MIGRATION).operations

    operation.code(state.apps, None)

    assert groups_as_stored() == expected()


def test_running_migration_0002_twice_changes_nothing():
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(MIGRATION, at_end=True)
    (operation,) = executor.loader.get_migration(*MIGRATION).operations
    Group.objects.all().delete()
    operation.code(state.apps, None)
    operation.code(state.apps, None)
    assert groups_as_stored() == expected()


def test_reversing_migration_0002_removes_the_groups():
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(MIGRATION, at_end=True)
    (operation,) = executor.loader.get_migration(*MIGRATION).operations
    operation.code(state.apps, None)
    operation.reverse_code(state.apps, None)
    assert not Group.objects.filter(name__in=EXPECTED).exists()
