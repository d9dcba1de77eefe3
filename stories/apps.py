from django.apps import AppConfig


class StoriesConfig(AppConfig):
    name = "stories"
    verbose_name = "Newsroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from stories.publishing.prerender import connect

        connect()  # keeps pre-rendered story HTML in step with its sources
