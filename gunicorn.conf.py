"""gunicorn defaults for Newsroom; every value can be overridden from the environment."""

import multiprocessing
import os


def _whole_number(name: str, default: int, minimum: int = 1) -> int:
    """A whole number from the environment, or a sentence saying what is wrong."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise SystemExit(f"{name} must be a whole number of at least {minimum}, not {raw!r}.")
    return int(raw)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: pages are served from the cache or a few fast queries, so a
# worker per core (plus one) keeps both cores busy without over-committing memory.
# That needs the cache shared (REDIS_URL): a worker's own local-memory cache
# only hears of the changes made through that worker, so after a withdrawal
# the others would go on serving the withdrawn story from their cached pages.
# Without a shared cache the server runs one worker, and refuses to run more.
shared_cache = bool(os.environ.get("REDIS_URL", "").strip())
workers = _whole_number("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1 if shared_cache else 1)
if workers > 1 and not shared_cache:
    raise SystemExit(
        f"GUNICORN_WORKERS is {workers}, but REDIS_URL is not set: each worker would keep "
        "its own page cache, and pages withdrawn through one worker would still be served "
        "by the others. Set REDIS_URL to a Redis server every worker shares, or run one "
        "worker (GUNICORN_WORKERS=1, with GUNICORN_THREADS for more requests at once)."
    )
threads = _whole_number("GUNICORN_THREADS", 1)
# A request that takes longer than this is stuck (a page needs milliseconds);
# the worker is replaced rather than left holding a connection forever.
timeout = _whole_number("GUNICORN_TIMEOUT", 30, minimum=0)  # 0: no limit
graceful_timeout = 20
# Above the usual load balancer idle timeout would be wrong; a few seconds
# lets a balancer reuse connections without tying up sync workers.
keepalive = _whole_number("GUNICORN_KEEPALIVE", 5, minimum=0)
# Recycle workers now and then so slow leaks in any library cannot grow forever.
max_requests = _whole_number("GUNICORN_MAX_REQUESTS", 5000, minimum=0)  # 0: never
max_requests_jitter = 500
# The worker heartbeat file on a container's overlay filesystem can stall a
# worker; memory-backed /dev/shm does not.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# "-" is stdout; an empty value turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

# The same JSON lines as the application (newsroom/logs.py), so one collector
# parses gunicorn's start-up, worker and access messages alongside Django's.
# NEWSROOM_LOG_FORMAT=plain (or DJANGO_DEBUG=true) keeps gunicorn's own format.
_debug = os.environ.get("DJANGO_DEBUG", "").strip().lower() in {"true", "1", "yes", "on"}
_log_format = os.environ.get("NEWSROOM_LOG_FORMAT", "").strip().lower() or (
    "plain" if _debug else "json"
)
if _log_format == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "newsroom.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        # gunicorn merges this into its defaults, whose root logger names a
        # handler of its own; naming ours replaces it.
        "root": {"handlers": ["stdout"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "gunicorn.access": {
                "handlers": ["stdout"] if accesslog else [],
                "level": "INFO",
                "propagate": False,
            },
        },
    }


def post_worker_init(worker):
    # What the worker has loaded by now (Django, the URLconf, the app's
    # modules) lives as long as the worker: keep it out of the garbage
    # collector's full passes, which otherwise walk it during requests.
    import gc

    gc.freeze()
