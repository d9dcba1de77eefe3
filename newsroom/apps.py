from django.apps import AppConfig


class NewsroomConfig(AppConfig):
    """The project itself as an app, so its deploy checks are registered."""

    name = "newsroom"
    verbose_name = "Newsroom project"

    def ready(self):
        from newsroom import checks  # noqa: F401  (registers system checks)
