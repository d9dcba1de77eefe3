"""Forms behind the issue's publication buttons."""

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from stories import scheduling


class PublicationTimeField(forms.DateTimeField):
    """A minute typed in the newsroom's time zone, whatever the browser's zone or
    the zone a request happens to have active."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": 60}, format=scheduling.PICKER_FORMAT
    )
    input_formats = [scheduling.PICKER_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

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
