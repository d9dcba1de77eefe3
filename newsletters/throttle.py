"""Fixed-window rate limits kept in the shared cache (Redis in production), so
every app server counts against the same limit."""

import hashlib
import time

from django.core.cache import cache


def hit(scope: str, key: str, limit: int, window: int) -> bool:
    """Count one attempt for key; True while it is within limit per window seconds."""
    bucket = int(time.time() // window)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"newsroom:throttle:{scope}:{bucket}:{digest}"
    # add() is atomic: only the first attempt of a window creates the counter.
    if cache.add(cache_key, 1, timeout=window + 5):
        return limit >= 1
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=window + 5)
        count = 1
    return count <= limit
