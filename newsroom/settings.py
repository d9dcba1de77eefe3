"""Newsroom settings: one module, every value read from the environment.

Development needs nothing set (SQLite, local-memory cache). Production sets
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL and REDIS_URL; the
README's deployment section lists them all.
"""

import importlib.util
from pathlib import Path

import django
from django.core.exceptions import ImproperlyConfigured

from newsroom.env import (
    env_bool,
    env_choice,
    env_database,
    env_dotted_path,
    env_email,
    env_float,
    env_hosts,
    env_int,
    env_list,
    env_path,
    env_prefixed,
    env_str,
    env_time_zone,
    env_url,
)

# The project's own files (templates, static files) travel inside the package,
# so an installed wheel finds them as a checkout does.
PACKAGE_DIR = Path(__file__).resolve().parent
# Where local state lives by default (SQLite database, generated secret key,
# uploads, collected static files): the checkout when running from one, the
# working directory when the project is installed as a package (never
# site-packages). NEWSROOM_HOME names another place.
_CHECKOUT = PACKAGE_DIR.parent
BASE_DIR = env_path(
    "NEWSROOM_HOME", str(_CHECKOUT if (_CHECKOUT / "manage.py").exists() else Path.cwd())
)

DEBUG = env_bool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    # A fresh checkout must run with nothing configured, yet a key shipped in
    # the repository would be public. Generate one per checkout instead; the
    # deploy check (newsroom/checks.py) insists on a real one in production.
    from django.core.management.utils import get_random_secret_key

    path = BASE_DIR / ".secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = get_random_secret_key()
        path.write_text(key)
        return key


SECRET_KEY = _secret_key()
SECRET_KEY_FROM_ENVIRONMENT = bool(env_str("DJANGO_SECRET_KEY"))
ALLOWED_HOSTS = env_hosts("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("NEWSROOM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env_str("NEWSROOM_SITE_NAME", "The Newsroom")

INSTALLED_APPS = [
    "newsroom.admin_site.NewsroomAdminConfig",  # django.contrib.admin, people named
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.postgres",
    "taggit",
    "django_filters",
    "axes",
    # Django 6 has the tasks API built in; 5.2 takes it from the backport.
    *([] if django.VERSION >= (6, 0) else ["django_tasks"]),
    "django_tasks_db",
    "anymail",
    "newsroom.apps.NewsroomConfig",  # deploy checks, project-wide commands (run_scheduler)
    "stories",
    "newsletters",
]
# The demo and benchmark data (load_demo, generate_bench_data) and the local
# mail catcher (mail_catcher) where the
# development tools are present: a checkout has them, an installed package not.
if importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    # First: load-balancer probes skip host checks, HTTPS redirects and sessions.
    "newsroom.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Readers' pages read from the replica when DATABASE_REPLICA_URL is set.
    "newsroom.replica.ReaderTrafficMiddleware",
    # Above every middleware that sets Vary or Cache-Control on the way out
    # (sessions, CSRF, auth), which decide what may be compressed, and above
    # WhiteNoise so static text is compressed when it was not precompressed.
    "newsroom.compression.PublicGZipMiddleware",
    "newsroom.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A page the page cache holds is answered here for an anonymous reader,
    # before sessions, CSRF, login and messages do work the page does not need
    # (below the security headers, CSP and compression, which it still gets).
    "stories.publishing.cache.CachedPageMiddleware",
    # Before anything reads a request body: one too big to hold an acceptable
    # upload is refused unread.
    "stories.images.UploadSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # A NUL in a query string or a form is answered 400 before any view.
    "newsroom.security.RefuseNulMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "newsroom.urls"
WSGI_APPLICATION = "newsroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "newsroom.context_processors.site",
            ],
        },
    },
]


def _database(name: str, default: str = "") -> dict:
    return env_database(
        name,
        default=default,
        conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60, minimum=0),
        connect_timeout=env_int("DJANGO_DB_CONNECT_TIMEOUT", 5, minimum=1),
    )


DATABASES = {"default": _database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if env_str("DATABASE_REPLICA_URL"):
    # A streaming replica of DATABASE_URL for readers' pages (newsroom/replica.py).
    DATABASES["replica"] = _database("DATABASE_REPLICA_URL")
    if any(db["ENGINE"] != "django.db.backends.postgresql" for db in DATABASES.values()):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL names a PostgreSQL streaming replica of a "
            "PostgreSQL DATABASE_URL; both must be postgres:// URLs."
        )
    # Tests have no replica: they read the primary through this alias.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["newsroom.replica.ReaderReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"}, "redis://127.0.0.1:6379/0")
if REDIS_URL:
    # Shared by every app server, so invalidating on one reaches all of them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "newsroom",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "newsroom",
        }
    }
# How long a public page may be served from the server-side cache at most;
# publication events invalidate earlier (stories/publishing/cache.py).
# The server-side page cache can be switched off (the benchmark measures both).
NEWSROOM_PAGE_CACHE = env_bool("NEWSROOM_PAGE_CACHE", True)
NEWSROOM_PAGE_CACHE_SECONDS = env_int("NEWSROOM_PAGE_CACHE_SECONDS", 300, minimum=0)
# How long a story's or issue's rendered fragments stay in the cache
# (stories/publishing/fragments.py); a change gives them a new key at once, so
# this only bounds how long superseded ones take up room.
NEWSROOM_FRAGMENT_SECONDS = env_int("NEWSROOM_FRAGMENT_SECONDS", 7 * 24 * 3600, minimum=60)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Staff sign in through the admin, and land on its index unless a safe
# ?next= says otherwise (a refused one too).
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling on the admin: five failures lock that user and address pair
# for a quarter of an hour.
AXES_FAILURE_LIMIT = env_int("NEWSROOM_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The lockout page, in the admin's look, saying when to try again.
AXES_LOCKOUT_CALLABLE = "newsroom.security.lockout_response"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_time_zone("NEWSROOM_TIME_ZONE", "UTC")
# The newsroom publishes in English. With translation off, every URL reversed
# and every date and template lookup skips a per-call language check, which
# measured about a tenth of an uncached page's time.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_URL = env_str("DJANGO_MEDIA_URL", "/media/")
MEDIA_ROOT = env_path("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media"))
# Serve uploads from the app (development, `make run`); production leaves them
# to a media bucket or the web server in front.
NEWSROOM_SERVE_MEDIA = env_bool("NEWSROOM_SERVE_MEDIA", DEBUG)
# Hashed, compressed, forever-cacheable static files once collectstatic has
# run (the Docker image and `make bench` do). A fresh checkout and the tests run
# without it, with whitenoise finding files where runserver would.
# NEWSROOM_STATIC_MANIFEST=true makes collectstatic write the manifest.
_COLLECTED = env_bool("NEWSROOM_STATIC_MANIFEST", (STATIC_ROOT / "staticfiles.json").exists())

# Uploaded media: the local filesystem by default; an S3-compatible bucket
# (AWS, MinIO, Ceph, R2...) once NEWSROOM_S3_BUCKET is set, so every app server
# sees every upload.
S3_BUCKET = env_str("NEWSROOM_S3_BUCKET")
if S3_BUCKET:
    if importlib.util.find_spec("storages") is None:
        raise ImproperlyConfigured(
            "NEWSROOM_S3_BUCKET is set but django-storages is not installed: "
            "pip install 'newsroom[s3]' (the Docker image includes it)."
        )
    _MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            # Empty values fall back to boto3's own discovery (instance roles,
            # AWS_* variables, ~/.aws), so keys need not be in the environment.
            "endpoint_url": env_str("NEWSROOM_S3_ENDPOINT_URL") or None,
            "region_name": env_str("NEWSROOM_S3_REGION") or None,
            "access_key": env_str("NEWSROOM_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("NEWSROOM_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("NEWSROOM_S3_PREFIX", "media"),
            "custom_domain": env_str("NEWSROOM_S3_CUSTOM_DOMAIN") or None,
            # Signed, expiring image URLs unless the bucket or CDN is public.
            "querystring_auth": env_bool("NEWSROOM_S3_SIGNED_URLS", True),
            # Never replace an existing object: two uploads with one name both survive.
            "file_overwrite": False,
        },
    }
else:
    _MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _MEDIA_STORAGE,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _COLLECTED
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _COLLECTED

# Lead images: refused beyond these limits with a message saying which.
NEWSROOM_IMAGE_MAX_BYTES = env_int("NEWSROOM_IMAGE_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
NEWSROOM_IMAGE_MAX_PIXELS = env_int("NEWSROOM_IMAGE_MAX_PIXELS", 40_000_000, minimum=1)

# Editorial rules that small newsrooms may relax.
NEWSROOM_ALLOW_SELF_APPROVAL = env_bool("NEWSROOM_ALLOW_SELF_APPROVAL", False)
NEWSROOM_REQUIRE_SOURCE = env_bool("NEWSROOM_REQUIRE_SOURCE", True)

# Background work (mail, imports) runs on Django's tasks API (newsroom/tasks.py).
# "database" stores each task as a row that `manage.py run_worker` processes
# (django-tasks' db_worker, at a lower CPU priority) pick up, any number of
# them on any number of machines; "immediate" runs a task inside the request
# that enqueues it (the tests use it).
_TASKS_PACKAGE = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
NEWSROOM_TASKS_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "immediate": f"{_TASKS_PACKAGE}.backends.immediate.ImmediateBackend",
}
NEWSROOM_TASKS_BACKEND = env_choice(
    "NEWSROOM_TASKS_BACKEND", "database", set(NEWSROOM_TASKS_BACKENDS)
)
TASKS = {"default": {"BACKEND": NEWSROOM_TASKS_BACKENDS[NEWSROOM_TASKS_BACKEND]}}
# How many steps nicer than the web server `run_worker` makes itself for the
# CPU (0: as nice as the web server): readers' pages before a send's batches.
NEWSROOM_WORKER_NICENESS = env_int("NEWSROOM_WORKER_NICENESS", 10, minimum=0, maximum=19)

# Jobs that `manage.py run_scheduler` runs at the start of every minute (or
# of every `every_minutes`-th minute, counted from midnight UTC): management
# commands, so each can also be run by hand or from cron. Each must be safe to
# run twice at once, since several schedulers may run.
NEWSROOM_PERIODIC_JOBS = [
    {"command": "publish_scheduled"},
    # Right after it: the issues that just went live start their mail.
    {"command": "send_due_mail"},
]
if NEWSROOM_TASKS_BACKEND == "database":
    # Finished task rows are bookkeeping of the queue; what the work did is
    # recorded in the newsroom's own tables. Kept two weeks, pruned daily.
    NEWSROOM_PERIODIC_JOBS.append(
        {
            "command": "prune_db_task_results",
            "args": ["--queue-name", "*", "--min-age-days", "14"],
            "every_minutes": 24 * 60,
        }
    )

# Mail: Django's SMTP backend by default; EMAIL_BACKEND may name another, such
# as a provider's API through django-anymail ("anymail.backends.postmark.EmailBackend")
# with its settings in ANYMAIL_* variables (ANYMAIL_POSTMARK_SERVER_TOKEN=...).
EMAIL_BACKEND = env_dotted_path("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true: EMAIL_USE_TLS upgrades a plain "
        "connection with STARTTLS (usually port 587), EMAIL_USE_SSL starts encrypted "
        "(usually port 465). Set the one your mail server expects."
    )
# Seconds before a silent mail server is given up on, so a send never hangs.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)

# The mailbox of List-Unsubscribe's mailto: (newsletters/delivery/inbound.py):
# route it to /anymail/<provider>/inbound/ at the provider. Unset, the
# newsletter's reply-to (or sender) address is named instead.
NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS = (
    env_email("NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS", "")
    if env_str("NEWSROOM_MAIL_UNSUBSCRIBE_ADDRESS")
    else ""
)

# Issue mail (newsletters/delivery). The rate is the provider's limit in
# messages per second, shared by every worker through the cache (Redis in
# production); 0 sends as fast as the mail server takes them.
NEWSROOM_MAIL_RATE = env_int("NEWSROOM_MAIL_RATE", 0, minimum=0)
# Copies a worker claims at a time, and how many it hands over between two
# writes of their results (at most this many are sent twice after a kill).
NEWSROOM_MAIL_BATCH = env_int("NEWSROOM_MAIL_BATCH", 500, minimum=1)
NEWSROOM_MAIL_RECORD_EVERY = env_int("NEWSROOM_MAIL_RECORD_EVERY", 20, minimum=1)
# Batch tasks queued per send: one per worker process that should share it.
NEWSROOM_MAIL_PARALLEL = env_int("NEWSROOM_MAIL_PARALLEL", 2, minimum=1)
# Seconds a claim is held before send_due_mail takes it back (a killed worker).
NEWSROOM_MAIL_LEASE_SECONDS = env_int("NEWSROOM_MAIL_LEASE_SECONDS", 300, minimum=1)
# Seconds without a claim after which send_due_mail queues a send's work again.
NEWSROOM_MAIL_IDLE_SECONDS = env_int("NEWSROOM_MAIL_IDLE_SECONDS", 60, minimum=1)
# Seconds one batch task runs before it queues itself again and lets other
# tasks (confirmation mails, imports) have the worker.
NEWSROOM_MAIL_TASK_SECONDS = env_int("NEWSROOM_MAIL_TASK_SECONDS", 60, minimum=1)
# Attempts of a copy refused for now (4xx) before it fails, the first wait
# (growing fourfold), and how old an issue may be when it goes live and
# still be mailed.
NEWSROOM_MAIL_MAX_ATTEMPTS = env_int("NEWSROOM_MAIL_MAX_ATTEMPTS", 5, minimum=1)
NEWSROOM_MAIL_RETRY_SECONDS = env_int("NEWSROOM_MAIL_RETRY_SECONDS", 60, minimum=1)
NEWSROOM_MAIL_WINDOW_HOURS = env_int("NEWSROOM_MAIL_WINDOW_HOURS", 24, minimum=1)
DEFAULT_FROM_EMAIL = env_email("DEFAULT_FROM_EMAIL", "newsroom@localhost")
SERVER_EMAIL = env_email("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
ANYMAIL = env_prefixed("ANYMAIL_")
# A send pauses itself, and tells its publisher, when its complaint or
# hard-bounce rate passes these fractions (0.001 is 0.1%), judged over at
# least NEWSROOM_MAIL_RATE_MIN_SAMPLE copies (newsletters/delivery/thresholds.py).
NEWSROOM_MAIL_COMPLAINT_RATE = env_float(
    "NEWSROOM_MAIL_COMPLAINT_RATE", 0.001, minimum=0.0, maximum=1.0
)
NEWSROOM_MAIL_BOUNCE_RATE = env_float("NEWSROOM_MAIL_BOUNCE_RATE", 0.02, minimum=0.0, maximum=1.0)
NEWSROOM_MAIL_RATE_MIN_SAMPLE = env_int("NEWSROOM_MAIL_RATE_MIN_SAMPLE", 1000, minimum=1)

# Security: production values by default where they cost a developer nothing.
# The README's deployment section lists the variables a production server sets.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_PROXY", False):
    # TLS ends at the load balancer: trust its X-Forwarded-Proto, and take the
    # client address for login throttling from X-Forwarded-For (the balancer's
    # own address would otherwise lock out everyone sharing a username).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    NEWSROOM_PROXY_COUNT = env_int("NEWSROOM_PROXY_COUNT", 1, minimum=1)
else:
    NEWSROOM_PROXY_COUNT = 0
AXES_CLIENT_IP_CALLABLE = "newsroom.security.client_ip_address"
# Every failed sign-in counts, however long the username typed.
AXES_USERNAME_CALLABLE = "newsroom.security.client_username"

# Content-Security-Policy (newsroom/security.py). The public pages load only
# their own CSS and images (lead images may live on a media bucket or CDN, so
# any https: image is allowed); no inline script or style anywhere.
NEWSROOM_CSP = env_str(
    "NEWSROOM_CSP",
    "default-src 'self'; img-src 'self' data: https:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
)
# The admin satisfies the same policy (tests/test_csp_browser.py checks it in
# Chromium); a separate variable lets a site relax the admin alone if an admin
# add-on ever needs it, without weakening the public pages.
NEWSROOM_ADMIN_CSP = env_str("NEWSROOM_ADMIN_CSP", NEWSROOM_CSP)
NEWSROOM_CSP_REPORT_ONLY = env_bool("NEWSROOM_CSP_REPORT_ONLY", False)

# JSON lines for log collectors in production; readable lines while developing.
LOG_FORMAT = env_choice("NEWSROOM_LOG_FORMAT", "plain" if DEBUG else "json", {"json", "plain"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "newsroom.logs.JsonFormatter"},
    },
    "filters": {
        "client_errors_without_traceback": {"()": "newsroom.logs.ClientErrorsWithoutTraceback"}
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["client_errors_without_traceback"],
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["stdout"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    # One line per login is noise; lockouts are still logged as warnings.
    # aiosmtpd (the local mail catcher) logs every SMTP command it reads.
    "loggers": {"axes": {"level": "WARNING"}, "mail.log": {"level": "WARNING"}},
}
