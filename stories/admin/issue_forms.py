"""The issue's edit form, which refuses stale saves, and the forms behind its
publication buttons."""

import json
from datetime import datetime

from django import forms
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils import timezone

from stories import timebounds
from stories.admin.base import VersionCheckedForm
from stories.editorial import scheduling
from stories.models import AuditEntry, Issue, Newsletter
from stories.people import display_name


def _person(user) -> str:
    if user is None:
        return "The newsroom (automatic)"
    return display_name(user)


def issue_changes_since(issue_pk: int, opened_at: datetime | None) -> list[str]:
    """Who saved or moved the issue after opened_at, oldest first: the admin's
    change log and the audit trail (two queries)."""
    if opened_at is None:
        return []
    # From the very instant the form was opened: better named than missed.
    saves = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Issue),
        object_id=str(issue_pk),
        action_time__gte=opened_at,
    ).select_related("user")
    steps = AuditEntry.objects.filter(issue_id=issue_pk, created_at__gte=opened_at).select_related(
        "actor"
    )
    events = [(entry.action_time, f"{_person(entry.user)} saved it") for entry in saves]
    events += [
        (entry.created_at, f"{_person(entry.actor)} {AuditEntry.Action.told(entry.action)}")
        for entry in steps
    ]
    return [f"{what} at {scheduling.format_time(when)}" for when, what in sorted(events)]


def next_issue_numbers() -> dict[int, int]:
    """Each newsletter's next issue number: one past its highest (one query)."""
    highest = Newsletter.objects.annotate(highest=Max("issues__number"))
    return {pk: (number or 0) + 1 for pk, number in highest.values_list("pk", "highest")}


class IssueForm(VersionCheckedForm):
    """The issue form refuses a save over a change made since it was opened,
    naming who made it, as the story form does. IssueAdmin.changeform_view
    holds the row lock taken in clean() until the save commits."""

    class Meta:
        model = Issue
        fields = ["newsletter", "number", "format", "headline", "slug", "intro", "closing_tldr"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A post that says nothing of the format (a script, an older form)
        # keeps the issue's; every form the admin draws sends one.
        if "format" in self.fields:
            self.fields["format"].required = False
        if "number" in self.fields and self.instance.pk is None:
            # Suggested, and kept up to date with the newsletter chosen
            # (static/js/issue-form.js); left empty, the next one is taken.
            number = self.fields["number"]
            number.required = False
            number.help_text = "Filled in with the newsletter's next number."
            number.widget.attrs["data-next-numbers"] = json.dumps(next_issue_numbers())

    def clean_number(self):
        number = self.cleaned_data.get("number")
        if number is None and self.instance.pk is None:
            newsletter = self.cleaned_data.get("newsletter")
            if newsletter is not None:
                return next_issue_numbers().get(newsletter.pk, 1)
        return number

    def clean_format(self):
        return self.cleaned_data.get("format") or self.instance.format or Issue.Format.DIGEST

    def stale_message(self, seen, opened_at):
        who = "; ".join(issue_changes_since(self.instance.pk, opened_at))
        return (
            f"Your changes were not saved: {who or 'Someone changed this issue'} after you "
            "opened this issue, and saving now would overwrite that. Your edits are still in "
            "the form: open the issue in another tab to see it as it is now, adjust and save "
            "again."
        )


class PublicationTimeField(forms.DateTimeField):
    """A minute typed in the newsroom's time zone, whatever the browser's zone or
    the zone a request happens to have active."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": 60}, format=scheduling.PICKER_FORMAT
    )
    input_formats = [scheduling.PICKER_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
    default_validators = [timebounds.validate_time]

    def to_python(self, value):
        if value in self.empty_values:
            return None
        naive = value if isinstance(value, datetime) else self._parse(str(value).strip())
        if timezone.is_aware(naive):
            return naive
        try:
            return scheduling.from_wall_clock(naive)
        except scheduling.NotAClockTime as error:
            raise ValidationError(str(error), code="not_a_clock_time") from None

    def _parse(self, value: str) -> datetime:
        for fmt in self.input_formats:
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                continue
        raise ValidationError(
            "Enter a date and a time such as 2025-06-02 09:00.", code="invalid"
        ) from None

    def prepare_value(self, value):
        if isinstance(value, datetime) and timezone.is_aware(value):
            return scheduling.picker_value(value)
        return value


class ScheduleForm(forms.Form):
    publish_at = PublicationTimeField(label="Publish at")

    def __init__(self, *args, issue=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["publish_at"]
        field.label = f"Publish at ({scheduling.newsroom_zone().key})"
        field.help_text = (
            f"In the newsroom's time zone, {scheduling.zone_description()} now. "
            "Readers see the issue from the start of this minute."
        )
        if issue is not None and issue.publish_at and issue.publish_at > timezone.now():
            field.initial = issue.publish_at
        else:
            field.initial = scheduling.default_publication_time()


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why readers can no longer see this issue; kept in the audit trail.",
    )
