"""Full-text search: a derived SearchDocument row per approved or published story.

The table itself is plain and portable (a SearchVectorField is a "tsvector"
column, a type name SQLite accepts and leaves NULL). What differs per database
is the index over it, so it is created here by vendor-conditional operations
and deliberately kept out of the model state:
- PostgreSQL: a GIN index on the weighted tsvector.
- SQLite: an FTS5 table (Porter stemming) over the text columns, as external
  content of stories_searchdocument, kept in step by triggers.
Then existing approved and published stories are indexed.
"""

import html

import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models
from django.utils.html import strip_tags

FTS_TABLE = "stories_searchdocument_fts"

POSTGRES_FORWARD = [
    "CREATE INDEX stories_searchdocument_vector_gin "
    "ON stories_searchdocument USING gin (vector)",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS stories_searchdocument_vector_gin"]

SQLITE_FORWARD = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "headline, dek, body, content='stories_searchdocument', content_rowid='story_id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER stories_searchdocument_ai AFTER INSERT ON stories_searchdocument BEGIN
        INSERT INTO {FTS_TABLE}(rowid, headline, dek, body)
        VALUES (new.story_id, new.headline, new.dek, new.body);
    END""",
    f"""CREATE TRIGGER stories_searchdocument_ad AFTER DELETE ON stories_searchdocument BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, headline, dek, body)
        VALUES ('delete', old.story_id, old.headline, old.dek, old.body);
    END""",
    f"""CREATE TRIGGER stories_searchdocument_au AFTER UPDATE ON stories_searchdocument BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, headline, dek, body)
        VALUES ('delete', old.story_id, old.headline, old.dek, old.body);
        INSERT INTO {FTS_TABLE}(rowid, headline, dek, body)
        VALUES (new.story_id, new.headline, new.dek, new.body);
    END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS stories_searchdocument_au",
    "DROP TRIGGER IF EXISTS stories_searchdocument_ad",
    "DROP TRIGGER IF EXISTS stories_searchdocument_ai",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def _run(statements):
    def run(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


create_index = _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD})
drop_index = _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD})


def _plain(text):
    return html.unescape(strip_tags(text)).replace("\ue000", "").replace("\ue001", "")


def index_existing_stories(apps, schema_editor):
    # A frozen copy of stories.models.search.document_fields: migrations must
    # not depend on code that may change later.
    Story = apps.get_model("stories", "Story")
    SearchDocument = apps.get_model("stories", "SearchDocument")
    stories = Story.objects.filter(status__in=["approved", "published"]).iterator(chunk_size=500)
    batch = []
    for story in stories:
        rest = [story.tldr_html, story.body_html, story.why_it_matters_html, story.key_points_html]
        batch.append(
            SearchDocument(
                story_id=story.pk,
                headline=_plain(story.headline),
                dek=_plain(story.dek),
                body="\n".join(_plain(part) for part in rest if part),
            )
        )
    SearchDocument.objects.bulk_create(batch, batch_size=500)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE stories_searchdocument SET vector = "
            "setweight(to_tsvector('english'::regconfig, coalesce(headline, '')), 'A') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(dek, '')), 'B') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'C'), "
            "rank_vector = "
            "setweight(to_tsvector('english'::regconfig, coalesce(headline, '')), 'A') || "
            "setweight(to_tsvector('english'::regconfig, coalesce(dek, '')), 'B') || "
            "setweight(to_tsvector('english'::regconfig, left(coalesce(body, ''), 400)), 'C')"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0003_lead_image_validation"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchDocument",
            fields=[
                (
                    "story",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_document",
                        serialize=False,
                        to="stories.story",
                    ),
                ),
                ("headline", models.TextField()),
                ("dek", models.TextField(blank=True)),
                ("body", models.TextField(blank=True)),
                (
                    "vector",
                    django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
                ),
                (
                    "rank_vector",
                    django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
                ),
            ],
        ),
        migrations.RunPython(create_index, drop_index),
        migrations.RunPython(index_existing_stories, migrations.RunPython.noop),
    ]
