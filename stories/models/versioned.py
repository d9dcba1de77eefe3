"""The fields and save rule every record edited through a form with a
version check shares."""

from django.db import models

from stories.timebounds import in_range, validate_time


class VersionedModel(models.Model):
    """A record whose every write bumps its version.

    An edit form posts the version it was opened at, and a save from a form
    opened before someone else's change is refused rather than written over
    it (stories/admin/base.py, stories/editorial/revisions.py). For that, the
    version has to move on every save, including saves of a few fields."""

    created_at = models.DateTimeField(auto_now_add=True, validators=[validate_time])
    updated_at = models.DateTimeField(auto_now=True, validators=[validate_time])
    version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        abstract = True
        constraints = [in_range("created_at"), in_range("updated_at")]

    def save(self, *args, **kwargs):
        self.version += 1
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version", "updated_at"}
        super().save(*args, **kwargs)
