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


@register(deploy=True)
def shared_cache(app_configs, **kwargs):
    # Page-cache invalidation (stories/publishing/cache.py) only reaches the processes
    # that share the cache: with a per-process cache, a withdrawn story could
    # stay on another gunicorn worker's cached pages until they expire.
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith(("RedisCache", "MemcachedCache", "PyMemcacheCache", "PyLibMCCache")):
        return []
    return [
        Warning(
            "The page cache is private to each process, so invalidation does not reach "
            "other workers or servers.",
            hint="Set REDIS_URL to a Redis server shared by every app server.",
            id="newsroom.W002",
        )
    ]


@register(deploy=True)
def content_security_policy(app_configs, **kwargs):
    problems = []
    for name in ("NEWSROOM_CSP", "NEWSROOM_ADMIN_CSP"):
        policy = getattr(settings, name, "")
        if not policy:
            problems.append(
                Warning(
                    f"{name} is empty, so pages are sent without a Content-Security-Policy.",
                    hint=f"Unset {name} to use the default policy.",
                    id="newsroom.W003",
                )
            )
        elif "'unsafe-inline'" in _directive(policy, "script-src"):
            problems.append(
                Warning(
                    f"{name} lets inline scripts run ('unsafe-inline' in script-src).",
                    hint="The pages need no inline script; remove 'unsafe-inline'.",
                    id="newsroom.W004",
                )
            )
    return problems


def _directive(policy: str, name: str) -> str:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0].lower() == name:
            return part
    # Without script-src, default-src governs scripts.
    return _directive(policy, "default-src") if name != "default-src" else ""
