from django.contrib import admin

from stories.admin.base import InvalidatesPublicPages
from stories.models import Citation, Story, TaggedTopic


class CitationInline(admin.TabularInline):
    model = Citation
    extra = 0
    autocomplete_fields = ["source"]
    fields = ["position", "source", "url", "title", "note"]


class TopicInline(admin.TabularInline):
    model = TaggedTopic
    extra = 0
    autocomplete_fields = ["tag"]
    verbose_name = "topic"
    verbose_name_plural = "topics"


@admin.register(Story)
class StoryAdmin(InvalidatesPublicPages, admin.ModelAdmin):
    list_display = ["headline", "status", "bylines", "updated_at"]
    list_filter = ["status", "topics"]
    search_fields = ["headline", "dek", "slug"]
    date_hierarchy = "created_at"
    prepopulated_fields = {"slug": ["headline"]}
    autocomplete_fields = ["authors"]
    inlines = [CitationInline, TopicInline]
    exclude = ["topics"]
    fieldsets = [
        (None, {"fields": ["headline", "slug", "dek", "authors"]}),
        ("Story", {"fields": ["tldr", "body", "why_it_matters", "key_points"]}),
        (
            "Lead image",
            {"fields": ["lead_image", "lead_image_alt", "lead_image_caption", "lead_image_credit"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("authors")

    @admin.display(description="bylines")
    def bylines(self, obj):
        return ", ".join(a.get_full_name() or a.get_username() for a in obj.authors.all())

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
