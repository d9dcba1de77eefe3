"""What follows a change to content readers may see: the one path.

An action (a workflow step, an admin save, a restore, an import) changes its
rows and then calls this module; nothing else refreshes the page cache."""

from django.db import transaction

from stories.publishing.cache import content_changed


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
