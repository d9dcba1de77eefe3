from django.db import migrations, models
from django.db.models import OuterRef, Subquery

PUBLIC_ISSUE_STATUSES = ("scheduled", "published")


def fill_listed_at(apps, schema_editor):
    """Each story's listing date from the issues holding it, as
    Story.objects.refresh_listed_at() keeps it from now on."""
    Story = apps.get_model("stories", "Story")
    IssueItem = apps.get_model("stories", "IssueItem")
    first_issue = (
        IssueItem.objects.filter(story=OuterRef("pk"), issue__status__in=PUBLIC_ISSUE_STATUSES)
        .order_by("issue__publish_at")
        .values("issue__publish_at")[:1]
    )
    Story.objects.update(listed_at=Subquery(first_issue))


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0014_editor_contributors_and_sections"),
    ]

    operations = [
        migrations.AddField(
            model_name="story",
            name="listed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="story",
            index=models.Index(fields=["listed_at", "id"], name="story_listing"),
        ),
        migrations.RunPython(fill_listed_at, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(fields=["publish_at", "number"], name="issue_archive"),
        ),
    ]
