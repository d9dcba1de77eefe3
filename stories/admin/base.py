from django.contrib import admin
from django.db import models, transaction

from stories import scheduling
from stories.cache import content_changed


class InvalidatesPublicPages:
    """Admin mixin: any save or delete may change what readers see, so every
    cached public page is invalidated once the change commits."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(content_changed)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        transaction.on_commit(content_changed)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(content_changed)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        transaction.on_commit(content_changed)


def zoned_time(field: str, description: str):
    """An admin column (or read-only field) showing the time in field in the
    newsroom's zone, naming the zone, and sorting by the field."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return scheduling.format_time(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_zoned"
    return column


class TimesInTheNewsroomZone:
    """Admin mixin: the date-and-time inputs say which zone they are read in."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and formfield is not None:
            zone = f"In the newsroom's time zone, {scheduling.zone_description()} now."
            formfield.help_text = f"{formfield.help_text} {zone}".strip()
        return formfield
