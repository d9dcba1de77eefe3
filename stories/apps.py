from django.apps import AppConfig


class StoriesConfig(AppConfig):
    name = "stories"
    verbose_name = "Newsroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        from stories.timebounds import register_loaders

        # A stored time outside what Python holds must not fail every page.
        connection_created.connect(register_loaders)
