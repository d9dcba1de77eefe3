"""Newsletters in the admin: editors see them, publishers change them, and
those who may see subscribers also get each list's counts and chart."""

from django.contrib import admin
from django.db.models import Count, Q

from newsletters import stats
from newsletters.delivery import progress
from newsletters.models import Subscription
from stories.models import Newsletter
from stories.publishing.changes import ShownThingChangesFollow

State = Subscription.State
SEES_SUBSCRIBERS = "newsletters.view_subscription"


@admin.register(Newsletter)
class NewsletterAdmin(ShownThingChangesFollow, admin.ModelAdmin):
    # A newsletter's name and description print on public pages (its name in
    # the metadata of its stories too), hence ShownThingChangesFollow.
    list_display = ["name", "slug", "sender_email", "is_default"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "description",
        "sender_name",
        "sender_email",
        "reply_to",
        "postal_address",
        "is_default",
    ]

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if request.user.has_perm(SEES_SUBSCRIBERS):
            columns += ["confirmed_count", "pending_count", "unsubscribed_count"]
        return columns

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.has_perm(SEES_SUBSCRIBERS):
            # One grouped query for the whole list page.
            queryset = queryset.annotate(
                confirmed=Count("subscriptions", filter=Q(subscriptions__state=State.CONFIRMED)),
                pending=Count("subscriptions", filter=Q(subscriptions__state=State.PENDING)),
                unsubscribed=Count(
                    "subscriptions", filter=Q(subscriptions__state=State.UNSUBSCRIBED)
                ),
            )
        return queryset

    @admin.display(description="confirmed", ordering="confirmed")
    def confirmed_count(self, obj):
        return obj.confirmed

    @admin.display(description="pending", ordering="pending")
    def pending_count(self, obj):
        return obj.pending

    @admin.display(description="unsubscribed", ordering="unsubscribed")
    def unsubscribed_count(self, obj):
        return obj.unsubscribed

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        newsletter = self.get_object(request, object_id)
        if newsletter is not None and request.user.has_perm(SEES_SUBSCRIBERS):
            extra_context["subscriber_chart"] = stats.chart(stats.confirmed_by_day(newsletter))
        if newsletter is not None:
            # Totals only, no addresses: whoever may see the newsletter sees them.
            extra_context["sends"] = progress.newsletter_sends(newsletter)
        return super().change_view(request, object_id, form_url, extra_context)
