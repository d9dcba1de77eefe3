from django.apps import AppConfig


class NewslettersConfig(AppConfig):
    name = "newsletters"
    verbose_name = "Audience"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Providers' bounce and complaint reports arrive as anymail's
        # tracking signal, mail to the unsubscribe mailbox as its inbound
        # signal; one receiver each acts on them.
        from newsletters.delivery import inbound, webhooks

        webhooks.connect()
        inbound.connect()
