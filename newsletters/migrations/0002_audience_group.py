"""The Audience group: the people who may see, import and export subscribers.

Subscriber data is readers' personal data, so it gets a group of its own
rather than riding on an editorial role: a newsroom gives it to whoever looks
after the list (in a small one, the publisher; the demo does exactly that),
and writers, editors and publishers see none of it unless they are in it.
"""

from django.db import migrations

GROUPS = {
    "Audience": {
        "newsletters": [
            "view_subscriber", "change_subscriber", "add_subscriber",
            "export_subscribers", "import_subscribers",
            "view_subscription", "change_subscription",
            "view_consentrecord",
            "view_suppression", "add_suppression",
            "view_subscriberimport", "add_subscriberimport",
        ],
        "stories": ["view_newsletter"],
    },
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, apps_codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codenames in apps_codenames.items():
            perms = Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
            missing = set(codenames) - set(perms.values_list("codename", flat=True))
            if missing:
                raise RuntimeError(f"Unknown permissions for {name}: {sorted(missing)}")
            group.permissions.add(*perms)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("newsletters", "0001_initial"),
        ("stories", "0008_newsletters"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
