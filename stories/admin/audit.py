from django.contrib import admin

from stories.admin.base import zoned_time
from stories.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail, read-only: rows are written by stories/workflow.py alone."""

    list_display = [
        "created_at_zoned",
        "actor",
        "action",
        "object_repr",
        "from_status",
        "to_status",
        "comment",
    ]
    list_filter = ["action", "actor", "created_at"]
    list_select_related = ["actor"]
    search_fields = ["object_repr", "comment"]
    date_hierarchy = "created_at"

    created_at_zoned = zoned_time("created_at", "when")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
