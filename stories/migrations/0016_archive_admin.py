"""The admin's story list at archive scale: an index for its order, and on
PostgreSQL trigram indexes for its search (Django's admin search is a
case-insensitive "contains" on headline, dek and slug, which without them
reads every story). SQLite, for a laptop's newsroom, scans. Also the span
check every stored time of the newsroom has, for the listing date."""

from django.db import migrations, models

import stories.timebounds

SEARCHED = ("headline", "dek", "slug")


def _index(field: str) -> str:
    return f"stories_story_{field}_trgm"


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for field in SEARCHED:
        # The expression Django's icontains lookup compares.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {_index(field)} ON stories_story "
            f"USING gin ((UPPER({field}::text)) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_index(field)}")


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0015_archive_listing_date"),
    ]

    operations = [
        migrations.AlterField(
            model_name="story",
            name="listed_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                null=True,
                validators=[stories.timebounds.validate_time],
            ),
        ),
        migrations.AddConstraint(
            model_name="story",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("listed_at__isnull", True),
                    ("listed_at__range", (stories.timebounds.EARLIEST, stories.timebounds.LATEST)),
                    _connector="OR",
                ),
                name="stories_story_listed_at_in_range",
                violation_error_code="out_of_range",
                violation_error_message=stories.timebounds.OUT_OF_RANGE,
            ),
        ),
        migrations.AddIndex(
            model_name="story",
            index=models.Index(fields=["created_at", "id"], name="story_created"),
        ),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
