from datetime import datetime

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from newsroom.admin_site import names_a_row
from stories import timebounds
from stories.editorial import scheduling
from stories.models import AuditEntry
from stories.models.content import unique_slug


def parse_opened_at(value: str | None) -> datetime | None:
    """When a posted page says it was opened, or None if it does not say so
    as a time that exists. The page writes it itself, so anything else is a
    garbled or tampered form: the version it posted still decides."""
    try:
        opened_at = parse_datetime(value or "")
    except ValueError:  # month 13, 30 February, an offset past a day
        return None
    if opened_at is None or not timebounds.within(opened_at):
        return None
    return opened_at


class AuditTrailHistory:
    """Admin mixin: the history page shows the object's audit trail above
    Django's change log (templates/admin/stories/<model>/object_history.html)."""

    def history_context(self, pk) -> dict:
        """What the history page of the object with primary key pk adds."""
        # A lazy queryset: evaluated while rendering, after the permission
        # check, in one query however long the trail. An audit entry points
        # at a story or an issue through a field named after its model.
        entries = AuditEntry.objects.filter(**{f"{self.opts.model_name}_id": pk})
        return {"audit_entries": entries.select_related("actor").order_by("created_at", "pk")}

    def history_view(self, request, object_id, extra_context=None):
        try:
            pk = self.opts.pk.to_python(unquote(object_id))
        except ValidationError:
            pk = None  # not an id at all; Django's view says there is no such object
        extra = {} if pk is None else self.history_context(pk)
        return super().history_view(request, object_id, {**extra, **(extra_context or {})})


def zoned_time(field: str, description: str):
    """An admin column (or read-only field) showing the time in field in the
    newsroom's zone, naming the zone, and sorting by the field."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        return scheduling.format_time(getattr(obj, field)) or "—"

    column.__name__ = f"{field}_zoned"
    return column


class ChosenRowsOnly:
    """Autocomplete widget mixin: a form sent back with a choice that names no
    row ("abc", a number past the column) is shown again without it. Django
    would look it up to print its label, and fail, after the field had
    already said it is not a valid choice."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        opts = remote.model._meta
        target = opts.get_field(getattr(remote, "field_name", None) or opts.pk.name)
        kept = [v for v in value if v in target.empty_values or names_a_row(target, v)]
        return super().optgroups(name, kept, attr)


class CheckedAutocompleteSelect(ChosenRowsOnly, AutocompleteSelect):
    pass


class CheckedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses a choice that names no row before looking the choices up
    together, which on SQLite fails for a number past 64 bits."""

    def clean(self, value):
        if isinstance(value, list | tuple):
            opts = self.queryset.model._meta
            target = opts.get_field(self.to_field_name) if self.to_field_name else opts.pk
            for choice in value:
                if choice not in target.empty_values and not names_a_row(target, choice):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": choice},
                    )
        return super().clean(value)


class CheckedAutocompleteSelectMultiple(ChosenRowsOnly, AutocompleteSelectMultiple):
    pass


class CheckedAutocompletes:
    """ModelAdmin and inline mixin: its autocomplete fields use the widgets
    above (tests/test_admin_hostile_input.py finds every autocomplete field)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = CheckedAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
            kwargs.setdefault("form_class", CheckedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TimesInTheNewsroomZone:
    """Admin mixin: the date-and-time inputs say which zone they are read in,
    and refuse a time outside the span the newsroom holds (which the models of
    this app refuse too; other apps' models, such as accounts, do not)."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and formfield is not None:
            zone = f"In the newsroom's time zone, {scheduling.zone_description()} now."
            formfield.help_text = f"{formfield.help_text} {zone}".strip()
            formfield.validators.append(timebounds.validate_time)
        return formfield


class VersionCheckedForm(forms.ModelForm):
    """A change form that posts the version it was opened at and refuses a save
    over a change made since then, keeping the user's input. Subclasses say who
    changed what in between (stale_message)."""

    based_on_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    opened_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A posted version is one the model's version column can hold: past
        # it, SQLite cannot even compare it with the stored ones.
        version = self._meta.model._meta.get_field("version")
        self.fields["based_on_version"].validators += version.validators
        if self.instance.pk is not None:
            self.fields["based_on_version"].initial = self.instance.version
            self.fields["opened_at"].initial = timezone.now().isoformat()

    @property
    def changed_data(self):
        # The admin's change log lists what the editor changed, not bookkeeping.
        return [
            name for name in super().changed_data if name not in ("based_on_version", "opened_at")
        ]

    def stale_message(self, seen: int, opened_at: datetime | None) -> str:
        raise NotImplementedError

    def take_in_changes(self, data) -> bool:
        """Put into the refused form's data what others changed since it was
        opened, where its user left things as they were; say whether that
        covered every change, so that saving the form again keeps them all."""
        return True

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        seen = cleaned.get("based_on_version")
        # The admin saves inside one transaction; this lock holds until the
        # save commits, so two saves from the same version cannot both pass.
        current = (
            type(self.instance)
            .objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("version", flat=True)
            .first()
        )
        if seen is None:
            name = self.instance._meta.verbose_name
            raise ValidationError(
                f"This form did not say which version of the {name} it was opened at. "
                "Copy your edits, reload the page and apply them again.",
                code="no_version",
            )
        if seen != current:
            message = self.stale_message(seen, parse_opened_at(cleaned.get("opened_at")))
            data = self.data.copy()
            if self.take_in_changes(data):
                # The form now holds their changes and the user's: saving it
                # again, once shown what changed, is a deliberate choice.
                data[self.add_prefix("based_on_version")] = current
            data[self.add_prefix("opened_at")] = timezone.now().isoformat()
            self.data = data
            raise ValidationError(message, code="stale")
        return cleaned


class FreeSlugVariant:
    """A form mixin: an address filled in from slug_source (the admin fills
    it as one types) that another row already uses becomes a free variant
    ("-2", "-3"...). Nobody chose it, so refusing it would only send them
    hunting for a new one; an address typed by hand is kept as typed, and
    the model refuses a collision. slug_taken says which was taken."""

    slug_source = "headline"
    slug_taken = None

    def clean_slug(self):
        slug = self.cleaned_data.get("slug") or ""
        source = self.data.get(self.add_prefix(self.slug_source)) or ""
        from_source = slugify(source)[: self.fields["slug"].max_length or 200]
        if not slug or slug.strip("-") != from_source.strip("-"):
            return slug
        others = self._meta.model._default_manager.exclude(pk=self.instance.pk)
        if not others.filter(slug=slug).exists():
            return slug
        self.slug_taken = slug
        return unique_slug(self.instance, source)
