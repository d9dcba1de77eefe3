"""Subscribers, their subscriptions and consent, and suppressions.

Nothing here edits a subscription's state directly: the one action that
changes it calls newsletters.services, as the public pages do."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from newsletters import services
from newsletters.addresses import InvalidAddress, normalize_email
from newsletters.exporting import csv_lines
from newsletters.models import ConsentRecord, Subscriber, Subscription, Suppression
from newsletters.models.subscribers import UnsubscribeChannel


class ReadOnlyMixin:
    """Rows only services, forms and imports write; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The list people work with: one row per address and newsletter."""

    list_display = [
        "email",
        "name",
        "newsletter",
        "state",
        "source",
        "created_at",
        "confirmed_at",
    ]
    list_filter = ["newsletter", "state", "source", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["subscriber__email", "subscriber__name"]
    list_select_related = ["subscriber", "newsletter"]
    date_hierarchy = "created_at"
    actions = ["unsubscribe_selected"]
    change_list_template = "admin/newsletters/subscription/change_list.html"
    readonly_fields = [
        "subscriber_link",
        "newsletter",
        "state",
        "source",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "unsubscribed_via",
        "unsubscribed_from_issue",
        "consent_records",
    ]
    fields = readonly_fields

    @admin.display(description="email", ordering="subscriber__email")
    def email(self, obj):
        return obj.subscriber.email

    @admin.display(description="name", ordering="subscriber__name")
    def name(self, obj):
        return obj.subscriber.name

    @admin.display(description="subscriber")
    def subscriber_link(self, obj):
        url = reverse("admin:newsletters_subscriber_change", args=[obj.subscriber_id])
        return format_html('<a href="{}">{}</a>', url, obj.subscriber.email)

    @admin.display(description="consent")
    def consent_records(self, obj):
        return consent_table(obj.consents.all())

    def has_change_permission(self, request, obj=None):
        # The change permission allows the unsubscribe action, never editing.
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("newsletters.change_subscription"):
            actions.pop("unsubscribe_selected", None)
        return actions

    @admin.action(description="Unsubscribe the selected subscriptions")
    def unsubscribe_selected(self, request, queryset):
        if not request.user.has_perm("newsletters.change_subscription"):
            raise PermissionDenied
        ids = list(queryset.values_list("pk", flat=True))
        changed = services.unsubscribe_subscriptions(ids, UnsubscribeChannel.STAFF)
        for subscription in Subscription.objects.filter(pk__in=ids).select_related("subscriber"):
            self.log_change(request, subscription, "Unsubscribed by staff.")
        self.message_user(
            request,
            f"Unsubscribed {changed} subscription{'s' if changed != 1 else ''}; "
            f"{len(ids) - changed} already were.",
            messages.SUCCESS,
        )

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [
            path("export/", export, name="newsletters_subscription_export"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_export": request.user.has_perm("newsletters.export_subscribers"),
            "may_import": request.user.has_perm("newsletters.import_subscribers"),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request):
        """The list as filtered and searched on the changelist, as CSV."""
        if not (
            self.has_view_permission(request)
            and request.user.has_perm("newsletters.export_subscribers")
        ):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        response = StreamingHttpResponse(csv_lines(queryset), content_type="text/csv")
        stamp = timezone.localtime().strftime("%Y-%m-%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="subscribers-{stamp}.csv"'
        response["Cache-Control"] = "private, no-store"
        return response


def consent_table(records):
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
                r.get_kind_display(),
                r.source,
                r.client_ip or "—",
                r.wording,
            )
            for r in records
        ),
    )
    return format_html(
        "<table><thead><tr><th>When</th><th>What</th><th>Where</th><th>Client address</th>"
        "<th>Words shown</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


class SubscriptionInline(admin.TabularInline):
    model = Subscription
    extra = 0
    can_delete = False
    fields = ["newsletter", "state", "source", "created_at", "confirmed_at", "unsubscribed_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscriber)
class SubscriberAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """One row per address; its subscriptions, consent and suppression."""

    list_display = ["email", "name", "created_at", "suppressed"]
    search_fields = ["email", "name"]
    list_filter = [("created_at", admin.DateFieldListFilter)]
    date_hierarchy = "created_at"
    fields = ["email", "name", "created_at", "suppression", "consent_records"]
    readonly_fields = ["email", "created_at", "suppression", "consent_records"]
    inlines = [SubscriptionInline]

    def get_queryset(self, request):
        suppressed = Suppression.objects.filter(email_hash=OuterRef("email_hash"))
        return super().get_queryset(request).annotate(address_suppressed=Exists(suppressed))

    @admin.display(description="suppressed", boolean=True, ordering="address_suppressed")
    def suppressed(self, obj):
        return obj.address_suppressed

    @admin.display(description="suppression")
    def suppression(self, obj):
        found = Suppression.objects.filter(email_hash=obj.email_hash).first()
        return found.get_reason_display() if found else "None: mail may go to this address."

    @admin.display(description="consent")
    def consent_records(self, obj):
        return consent_table(
            ConsentRecord.objects.filter(subscription__subscriber=obj).order_by("created_at")
        )


class SuppressionForm(forms.ModelForm):
    email = forms.CharField(
        label="Email address",
        max_length=320,
        help_text="Only its one-way fingerprint is kept.",
    )

    class Meta:
        model = Suppression
        fields = ["email", "reason", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Erasure is the reader's own act, from their preferences page.
        self.fields["reason"].choices = [
            (value, label)
            for value, label in Suppression.Reason.choices
            if value != Suppression.Reason.ERASED
        ]

    def clean_email(self):
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidAddress as problem:
            raise forms.ValidationError(str(problem)) from None


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["fingerprint", "reason", "note", "created_at"]
    list_filter = ["reason", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["email_hash", "note"]
    form = SuppressionForm

    @admin.display(description="fingerprint")
    def fingerprint(self, obj):
        return obj.email_hash[:16] + "…"

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            kwargs["form"] = forms.ModelForm
            kwargs["fields"] = ["note"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["email", "reason", "note"] if obj is None else ["reason", "note"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["reason"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        suppression = services.suppress_address(
            form.cleaned_data["email"], form.cleaned_data["reason"], form.cleaned_data["note"]
        )
        obj.pk = suppression.pk
        obj.email_hash = suppression.email_hash

    def has_delete_permission(self, request, obj=None):
        # Lifting a suppression is deliberate: only those allowed to delete
        # one, and never an erasure, which promised the reader to hold nothing.
        if obj is not None and obj.reason == Suppression.Reason.ERASED:
            return False
        return super().has_delete_permission(request, obj)
