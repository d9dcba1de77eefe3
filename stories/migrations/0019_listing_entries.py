"""Listing entries: each listed story beside each topic, source, staff author
and contributor it is listed under, with its listing date, so that a page
of any listing is one range of an index (stories/models/listings.py). Fills
them for the stories already listed.
"""

import datetime
import django.db.models.deletion
import stories.timebounds
from django.conf import settings
from django.db import migrations, models


# (entry column, link table, its story column, its entity column), as of this
# migration; the model's ListingEntry.objects.rebuild() is the same statement.
LINKS = [
    ("topic_id", "stories_taggedtopic", "content_object_id", "tag_id"),
    ("source_id", "stories_citation", "story_id", "source_id"),
    ("author_id", "stories_story_authors", "story_id", "user_id"),
    ("contributor_id", "stories_guestbyline", "story_id", "contributor_id"),
]


def fill_entries(apps, schema_editor):
    for entry_column, table, story_column, entity_column in LINKS:
        schema_editor.execute(
            f"INSERT INTO stories_listingentry (story_id, listed_at, {entry_column}) "
            f"SELECT DISTINCT s.id, s.listed_at, l.{entity_column} FROM {table} l "
            f"JOIN stories_story s ON s.id = l.{story_column} WHERE s.listed_at IS NOT NULL"
        )
    if schema_editor.connection.vendor == "postgresql":
        # Listings plan from these statistics from their first request on.
        schema_editor.execute("ANALYZE stories_listingentry")


class Migration(migrations.Migration):

    dependencies = [
        ('stories', '0018_search_listing_date_in_range'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ListingEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('listed_at', models.DateTimeField(validators=[stories.timebounds.validate_time])),
                ('author', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('contributor', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='stories.contributor')),
                ('source', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='stories.source')),
                ('story', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='listing_entries', to='stories.story')),
                ('topic', models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='stories.topic')),
            ],
            options={
                'verbose_name_plural': 'listing entries',
                'constraints': [models.CheckConstraint(condition=models.Q(('listed_at__isnull', True), ('listed_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_listingentry_listed_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'), models.UniqueConstraint(condition=models.Q(('topic__isnull', False)), fields=('topic', 'listed_at', 'story'), name='listing_topic'), models.UniqueConstraint(condition=models.Q(('source__isnull', False)), fields=('source', 'listed_at', 'story'), name='listing_source'), models.UniqueConstraint(condition=models.Q(('author__isnull', False)), fields=('author', 'listed_at', 'story'), name='listing_author'), models.UniqueConstraint(condition=models.Q(('contributor__isnull', False)), fields=('contributor', 'listed_at', 'story'), name='listing_contributor')],
            },
        ),
        migrations.RunPython(fill_entries, migrations.RunPython.noop),
    ]
