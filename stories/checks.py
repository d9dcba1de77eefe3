from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def secret_key_from_environment(app_configs, **kwargs):
    if getattr(settings, "SECRET_KEY_FROM_ENVIRONMENT", True):
        return []
    return [
        Warning(
            "DJANGO_SECRET_KEY is not set; this server uses a key generated for its own checkout.",
            hint="Set DJANGO_SECRET_KEY to the same long random value on every app server.",
            id="newsroom.W001",
        )
    ]
