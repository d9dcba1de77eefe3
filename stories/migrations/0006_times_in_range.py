"""Every stored time inside 1900-01-01 .. 2999-12-31 (UTC), kept there by
CHECK constraints (stories/timebounds.py says why).

Before the constraints are added, rows that hold a time outside that span
(say, an issue scheduled for 9999-12-31 23:59 in New York, stored as the year
10000) are repaired, each logged as a warning on the "stories.migrations"
logger:
- a scheduled issue is unscheduled (back to draft, no time), with an
  "unscheduled" entry in its audit trail saying why;
- a published or withdrawn issue's publication time becomes the time its
  publication was recorded, or the time of this repair;
- a share link's expiry or revocation becomes the time of this repair (it
  stops working now rather than never);
- any other optional time (submitted, published) is cleared, and any other
  required one (created, updated, a correction's date) becomes the time of
  this repair.
The repair reads no out-of-range value back: PostgreSQL compares and updates
them itself, since the database driver cannot load them.
"""

import datetime
import logging

import django.utils.timezone
import stories.timebounds
from django.conf import settings
from django.db import migrations, models
from django.db.models import Q

logger = logging.getLogger("stories.migrations")

# The span as this migration added it (stories.timebounds may move on).
EARLIEST = datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
LATEST = datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc)
SPAN = "1 January 1900 to 31 December 2999"
# Optional times that must not become empty: an empty revocation would bring a link back.
REPAIRED_TO_NOW = {("previewlink", "revoked_at")}
TIME_COLUMNS = {
    "story": ["status_changed_at", "submitted_at", "published_at", "created_at", "updated_at"],
    "issue": ["published_at", "created_at", "updated_at"],  # publish_at: see _repair_issues
    "correction": ["created_at"],
    "previewlink": ["created_at", "expires_at", "revoked_at"],
    "storyrevision": ["created_at"],
    "auditentry": ["created_at"],
}


def _outside(field):
    return Q(**{f"{field}__lt": EARLIEST}) | Q(**{f"{field}__gt": LATEST})


def _repair_issues(apps, now):
    Issue = apps.get_model("stories", "Issue")
    AuditEntry = apps.get_model("stories", "AuditEntry")
    bad = Issue.objects.filter(_outside("publish_at"))
    for pk, number, headline in bad.filter(status="scheduled").values_list(
        "pk", "number", "headline"
    ):
        Issue.objects.filter(pk=pk).update(status="draft", publish_at=None, updated_at=now)
        AuditEntry.objects.create(
            action="unscheduled",
            issue_id=pk,
            object_repr=f"#{number}: {headline}"[:300],
            from_status="scheduled",
            to_status="draft",
            comment=f"Unscheduled on upgrade: its publication time was outside {SPAN}, "
            "which the site cannot show. Schedule it again for the minute meant.",
        )
        logger.warning("Issue #%s was scheduled outside %s; it is unscheduled.", number, SPAN)
    for pk, number in bad.exclude(status="draft").values_list("pk", "number"):
        # published_at is inside the span or empty by now (repair_times).
        recorded = Issue.objects.filter(pk=pk).values_list("published_at", flat=True).first()
        Issue.objects.filter(pk=pk).update(publish_at=recorded or now)
        logger.warning(
            "Issue #%s had a publication time outside %s; it is now %s.",
            number,
            SPAN,
            "the time its publication was recorded" if recorded else "the time of this repair",
        )
    drafts = bad.filter(status="draft").update(publish_at=None)
    if drafts:
        logger.warning("Cleared the publication time outside %s of %s draft issues.", SPAN, drafts)


def repair_times(apps, schema_editor):
    now = django.utils.timezone.now()
    for model_name, columns in TIME_COLUMNS.items():
        model = apps.get_model("stories", model_name)
        for column in columns:
            field = model._meta.get_field(column)
            empty = field.null and (model_name, column) not in REPAIRED_TO_NOW
            repaired = model.objects.filter(_outside(column)).update(
                **{column: None if empty else now}
            )
            if repaired:
                logger.warning(
                    "%s %s rows held a %s outside %s; it is now %s.",
                    repaired,
                    model._meta.db_table,
                    column,
                    SPAN,
                    "empty" if empty else "the time of this repair",
                )
    _repair_issues(apps, now)


class Migration(migrations.Migration):

    dependencies = [
        ('stories', '0005_prerendered_html'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(repair_times, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='auditentry',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, db_index=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='correction',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='issue',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='issue',
            name='publish_at',
            field=models.DateTimeField(blank=True, db_index=True, editable=False, null=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='issue',
            name='published_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='issue',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='previewlink',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='previewlink',
            name='expires_at',
            field=models.DateTimeField(validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='previewlink',
            name='revoked_at',
            field=models.DateTimeField(blank=True, null=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='story',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='story',
            name='published_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='story',
            name='status_changed_at',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='story',
            name='submitted_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='story',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AlterField(
            model_name='storyrevision',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, validators=[stories.timebounds.validate_time]),
        ),
        migrations.AddConstraint(
            model_name='auditentry',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_auditentry_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='correction',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_correction_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='issue',
            constraint=models.CheckConstraint(condition=models.Q(('publish_at__isnull', True), ('publish_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_issue_publish_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='issue',
            constraint=models.CheckConstraint(condition=models.Q(('published_at__isnull', True), ('published_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_issue_published_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='issue',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_issue_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='issue',
            constraint=models.CheckConstraint(condition=models.Q(('updated_at__isnull', True), ('updated_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_issue_updated_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='previewlink',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_previewlink_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='previewlink',
            constraint=models.CheckConstraint(condition=models.Q(('expires_at__isnull', True), ('expires_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_previewlink_expires_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='previewlink',
            constraint=models.CheckConstraint(condition=models.Q(('revoked_at__isnull', True), ('revoked_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_previewlink_revoked_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='story',
            constraint=models.CheckConstraint(condition=models.Q(('status_changed_at__isnull', True), ('status_changed_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_story_status_changed_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='story',
            constraint=models.CheckConstraint(condition=models.Q(('submitted_at__isnull', True), ('submitted_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_story_submitted_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='story',
            constraint=models.CheckConstraint(condition=models.Q(('published_at__isnull', True), ('published_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_story_published_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='story',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_story_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='story',
            constraint=models.CheckConstraint(condition=models.Q(('updated_at__isnull', True), ('updated_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_story_updated_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
        migrations.AddConstraint(
            model_name='storyrevision',
            constraint=models.CheckConstraint(condition=models.Q(('created_at__isnull', True), ('created_at__range', (datetime.datetime(1900, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone.utc))), _connector='OR'), name='stories_storyrevision_created_at_in_range', violation_error_code='out_of_range', violation_error_message='Pick a date between 1 January 1900 and 31 December 2999.'),
        ),
    ]
