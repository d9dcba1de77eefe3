"""Newsletters: every issue belongs to one, and numbers count per newsletter.

The data step creates the default newsletter (named after the site) and files
every existing issue under it, so the old /issues/<number>/ addresses still
lead to the same issues. Its postal address is left for a publisher to fill
in the admin, which asks for it.
"""

from email.utils import parseaddr

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils.text import slugify
import stories.timebounds

# Who may do what with newsletters, added to the editorial groups of
# 0002_editorial_groups: editors file issues under a newsletter, publishers
# look after the newsletters themselves (names, senders, postal address).
GROUP_PERMISSIONS = {
    "Editors": ["view_newsletter"],
    "Publishers": ["add_newsletter", "change_newsletter", "view_newsletter"],
}


def create_default_newsletter(apps, schema_editor):
    Newsletter = apps.get_model("stories", "Newsletter")
    Issue = apps.get_model("stories", "Issue")
    name = getattr(settings, "SITE_NAME", "") or "The Newsroom"
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "newsroom@localhost"
    newsletter = Newsletter.objects.create(
        name=name,
        slug=slugify(name)[:100] or "newsroom",
        sender_name=name,
        sender_email=sender,
        postal_address="",
        is_default=True,
    )
    Issue.objects.update(newsletter=newsletter)
    if schema_editor.connection.vendor == "postgresql":
        # The rows just written leave deferred foreign-key checks pending,
        # and PostgreSQL refuses the ALTER TABLE that follows until they ran.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def grant_permissions(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="stories", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0007_revision_bylines_by_username"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="Newsletter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200, unique=True)),
                ("slug", models.SlugField(help_text="Its address: /newsletters/<slug>/.", max_length=100, unique=True)),
                ("description", models.TextField(blank=True, help_text="What readers get, shown on its page and beside the signup form.")),
                ("sender_name", models.CharField(help_text="Who mail comes from, by name.", max_length=200)),
                ("sender_email", models.EmailField(help_text="The address mail comes from.", max_length=254)),
                ("reply_to", models.EmailField(blank=True, help_text="Optional: where replies go instead.", max_length=254)),
                ("postal_address", models.TextField(blank=True, help_text="The postal address every mail's footer carries, as it should print; required before its mail can go out.")),
                ("is_default", models.BooleanField(default=False, help_text="New issues start in it, and the old /issues/<number>/ addresses lead to it.", verbose_name="default newsletter")),
                ("created_at", models.DateTimeField(auto_now_add=True, validators=[stories.timebounds.validate_time])),
            ],
            options={
                "ordering": ["name"],
                "constraints": [models.UniqueConstraint(condition=models.Q(("is_default", True)), fields=("is_default",), name="one_default_newsletter", violation_error_message="Another newsletter is the default; untick it there first.")],
            },
        ),
        migrations.AddField(
            model_name="issue",
            name="newsletter",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="issues", to="stories.newsletter"),
        ),
        migrations.RunPython(create_default_newsletter, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="issue",
            name="newsletter",
            field=models.ForeignKey(help_text="The newsletter this issue is an edition of; numbers count per newsletter.", on_delete=django.db.models.deletion.PROTECT, related_name="issues", to="stories.newsletter"),
        ),
        migrations.AlterField(
            model_name="issue",
            name="number",
            field=models.PositiveIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="issue",
            constraint=models.UniqueConstraint(fields=("newsletter", "number"), name="issue_number_once_per_newsletter", violation_error_message="This newsletter already has an issue with this number."),
        ),
        migrations.RunPython(grant_permissions, migrations.RunPython.noop),
    ]
