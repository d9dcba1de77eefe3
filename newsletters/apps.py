from django.apps import AppConfig


class NewslettersConfig(AppConfig):
    name = "newsletters"
    verbose_name = "Audience"
    default_auto_field = "django.db.models.BigAutoField"
