from django import forms
from django.contrib import admin

from stories.admin.base import InvalidatesPublicPages
from stories.models import Issue, IssueItem


class IssueItemFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen = {}
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            position = form.cleaned_data.get("position")
            if position in seen:
                raise forms.ValidationError(
                    f"Two stories are at position {position}; give each story its own number."
                )
            seen[position] = form


class IssueItemInline(admin.TabularInline):
    model = IssueItem
    formset = IssueItemFormSet
    extra = 0
    autocomplete_fields = ["story"]
    fields = ["position", "story"]


@admin.register(Issue)
class IssueAdmin(InvalidatesPublicPages, admin.ModelAdmin):
    list_display = ["number", "headline", "status", "publish_at"]
    list_filter = ["status"]
    search_fields = ["headline", "intro", "=number"]
    date_hierarchy = "publish_at"
    prepopulated_fields = {"slug": ["headline"]}
    inlines = [IssueItemInline]
    fields = ["number", "headline", "slug", "intro", "closing_tldr"]
