"""The newsroom's roles as groups of permissions.

Writers draft and submit; Editors edit anything, review and assemble issues;
Publishers schedule, publish and withdraw issues. Rules beyond permissions
(writers edit only their own drafts, nobody approves their own story) live in
stories/workflow.py.
"""

from django.db import migrations

GROUPS = {
    "Writers": [
        "add_story", "change_story", "view_story",
        "add_citation", "change_citation", "delete_citation", "view_citation",
        "add_taggedtopic", "change_taggedtopic", "delete_taggedtopic", "view_taggedtopic",
        "view_source", "add_source", "view_topic", "view_issue",
    ],
    "Editors": [
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
    ],
    "Publishers": [
        "view_story", "view_issue", "view_issueitem", "publish_issue", "view_auditentry",
        "view_source", "view_topic", "view_citation", "view_correction",
    ],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure ours
    # exist now so the groups can hold them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(content_type__app_label="stories", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Unknown permissions for {name}: {sorted(missing)}")
        group.permissions.add(*perms)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
