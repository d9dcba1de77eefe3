"""Search finds the newest matches by index instead of ranking every match.

Adds to each search row the story's listing date and a tsvector of its
headline alone, fills both for existing rows, and indexes them: a btree on
(listed_at, story) declared on the model, and on PostgreSQL GIN indexes on
the headline and rank vectors (kept out of the model state, as 0004_search
explains). See stories/discovery/search.py for the plan they serve.
"""

import django.contrib.postgres.search
from django.db import migrations, models

POSTGRES_FORWARD = [
    "UPDATE stories_searchdocument d SET listed_at = s.listed_at, "
    "headline_vector = to_tsvector('english'::regconfig, coalesce(d.headline, '')) "
    "FROM stories_story s WHERE s.id = d.story_id",
    "CREATE INDEX stories_searchdocument_headline_gin "
    "ON stories_searchdocument USING gin (headline_vector)",
    "CREATE INDEX stories_searchdocument_rank_gin "
    "ON stories_searchdocument USING gin (rank_vector)",
    "ANALYZE stories_searchdocument",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS stories_searchdocument_headline_gin",
    "DROP INDEX IF EXISTS stories_searchdocument_rank_gin",
]
SQLITE_FORWARD = [
    "UPDATE stories_searchdocument SET listed_at = "
    "(SELECT listed_at FROM stories_story WHERE stories_story.id = story_id)",
]


def _run(statements):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0016_archive_admin"),
    ]

    operations = [
        migrations.AddField(
            model_name="searchdocument",
            name="headline_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="searchdocument",
            name="listed_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD}),
        ),
        migrations.AddIndex(
            model_name="searchdocument",
            index=models.Index(fields=["listed_at", "story"], name="searchdocument_listing"),
        ),
    ]
