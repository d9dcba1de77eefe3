"""Reference data editors curate: sources, topics, corrections, preview links."""

from django.contrib import admin
from django.db.models import Count

from stories.admin.base import InvalidatesPublicPages
from stories.models import Correction, PreviewLink, Source, Topic


@admin.register(Source)
class SourceAdmin(InvalidatesPublicPages, admin.ModelAdmin):
    list_display = ["name", "url", "story_count"]
    search_fields = ["name", "description", "url"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_stories=Count("citations__story", distinct=True))
        )

    @admin.display(description="stories", ordering="n_stories")
    def story_count(self, obj):
        return obj.n_stories


@admin.register(Topic)
class TopicAdmin(InvalidatesPublicPages, admin.ModelAdmin):
    list_display = ["name", "slug", "story_count"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_stories=Count("tagged_stories"))

    @admin.display(description="stories", ordering="n_stories")
    def story_count(self, obj):
        return obj.n_stories


@admin.register(Correction)
class CorrectionAdmin(InvalidatesPublicPages, admin.ModelAdmin):
    list_display = ["story", "created_at", "created_by"]
    list_select_related = ["story", "created_by"]
    search_fields = ["text", "story__headline"]
    autocomplete_fields = ["story"]
    date_hierarchy = "created_at"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(PreviewLink)
class PreviewLinkAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_by", "created_at", "expires_at", "revoked_at"]
    list_select_related = ["story", "issue", "created_by"]
    list_filter = ["revoked_at"]
    autocomplete_fields = ["story", "issue"]
    date_hierarchy = "created_at"
