"""Revision snapshots name their bylines by username instead of user id.

Ids are handed out afresh when content is restored into another database, so
a snapshot that said {"id": 7} gave the byline to whoever got id 7 there.
Each {"id", "name"} entry becomes {"username", "name"} while the ids still
mean what they meant; an entry whose person was deleted keeps only the name
(its id could be handed to someone else later). Entries are sorted by
username, as new snapshots are, so comparing an old revision with a new one
shows no byline change that did not happen.
"""

from django.conf import settings
from django.db import migrations

BATCH = 500


def _rewrite(apps, convert):
    StoryRevision = apps.get_model("stories", "StoryRevision")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    changed = []
    for revision in StoryRevision.objects.only("pk", "data").iterator(chunk_size=BATCH):
        data = revision.data
        entries = data.get("authors") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            continue
        new = convert(User, [e for e in entries if isinstance(e, dict)])
        if new != entries:
            revision.data = {**data, "authors": new}
            changed.append(revision)
        if len(changed) == BATCH:
            StoryRevision.objects.bulk_update(changed, ["data"])
            changed = []
    StoryRevision.objects.bulk_update(changed, ["data"])


def _by_username(User, entries):
    ids = [e["id"] for e in entries if "username" not in e and isinstance(e.get("id"), int)]
    usernames = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
    converted = []
    for entry in entries:
        if "username" in entry:
            converted.append(entry)
        elif entry.get("id") in usernames:
            converted.append({"username": usernames[entry["id"]], "name": entry.get("name", "")})
        else:
            converted.append({"name": entry.get("name", "")})
    return sorted(converted, key=lambda e: e.get("username", ""))


def _by_id(User, entries):
    names = [e["username"] for e in entries if "username" in e]
    ids = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
    converted = []
    for entry in entries:
        if entry.get("username") in ids:
            converted.append({"id": ids[entry["username"]], "name": entry.get("name", "")})
        elif "id" in entry:
            converted.append(entry)
        # A person who is gone has no id to go back to; the old format
        # cannot say "a name only", so the entry is dropped.
    return sorted(converted, key=lambda e: e["id"])


def forwards(apps, schema_editor):
    _rewrite(apps, _by_username)


def backwards(apps, schema_editor):
    _rewrite(apps, _by_id)


class Migration(migrations.Migration):
    dependencies = [
        ("stories", "0006_times_in_range"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
