"""Settings, all from the environment.

With nothing set, the app runs with no servers: SQLite file database, Celery tasks run eagerly in-process,
local-memory cache. Set DATABASE_URL / CELERY_BROKER_URL / REDIS_URL for PostgreSQL, Redis and a real worker.
DJANGO_ENV=production refuses to start without SECRET_KEY and a real database.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from kombu import Exchange, Queue

from moderation import task_queues
from moderation.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_str,
    owner_database_from_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

ENVIRONMENT = env_str("DJANGO_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV={ENVIRONMENT!r}: use development or production")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "moderation",
    "queues",
    "cases",
]

MIDDLEWARE = [
    # Outermost: the request id is set for everything below (and their logs); every answer is counted and timed.
    "moderation.request_context.request_id_middleware",
    "moderation.metrics.request_metrics",
    "moderation.middleware.no_store",  # every answer, whoever makes it (static files keep their caching)
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "moderation.middleware.api_body_limit",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "moderation.language.LanguageMiddleware",  # after sessions (a saved choice), before common (its redirects)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "moderation.comfort.time_zone_middleware",  # after sessions: a person's time zone for their pages
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "moderation.middleware.htmx_login_redirect",
    "moderation.two_factor.require_two_factor",
    "moderation.page_errors.DomainErrorMiddleware",  # last: a service's refusal a page view did not handle
]

ROOT_URLCONF = "moderation.urls"
WSGI_APPLICATION = "moderation.wsgi.application"  # runserver (`make run`) and tests
ASGI_APPLICATION = "moderation.asgi.application"  # production (moderation/serving.py)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "moderation.comfort.comfort_context",
            ],
        },
    },
]

# Two logins to one PostgreSQL database. DATABASE_URL is the app's (web, worker, beat): a role that reads and
# writes the app's tables but may only insert into and read the audit log (`manage.py create_app_role`).
# MIGRATE_DATABASE_URL, when set, is the tables' owner: `migrate` and `create_app_role` connect with it, nothing
# else does. Give it only to the process that migrates (see docker-compose.yml), never to web or workers.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    if PRODUCTION:
        raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_ENV=production")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            # WAL + a busy timeout let the dev server and an eager worker share the file.
            # IMMEDIATE: a transaction takes the write lock when it begins, so two concurrent read-then-write
            # transactions queue (busy timeout) instead of one failing with "database is locked" on upgrade.
            "OPTIONS": {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
# Persistent connections: a new connection per request makes the API ~5x slower (shared/PERFORMANCE.md).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
# Served under ASGI (moderation/asgi.py turns this on), each request runs in a thread of its own and would leave
# a persistent connection behind: no persistent connections there, and PostgreSQL connections come from a
# pool per process instead (a request waits up to DB_POOL_TIMEOUT for one, then fails).
DB_POOL = env_bool("DB_POOL", False)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # By vendor, not engine path: the engine is moderation.postgresql (Django's plus one statement), and an
    # exact match on Django's path silently left ASGI with a new PostgreSQL connection for every request.
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 10),
            "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
        }
# Behind PgBouncer in transaction pooling mode, a server-side cursor (`.iterator()`) would outlive the
# transaction PgBouncer hands back: set DB_PGBOUNCER=1 there (and DB_POOL=0, one pooler is enough).
DB_PGBOUNCER = env_bool("DB_PGBOUNCER", False)
if DB_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Prepared statements on PostgreSQL: the values travel apart from the SQL (server-side binding), and a statement
# a connection has run DB_PREPARE_THRESHOLD times is prepared, so PostgreSQL stops parsing and planning it
# again. Every page and decision runs the same few dozen statements: this took 35-40 % off their database
# time (README, benchmarks). Django leaves it off for PgBouncer's sake (a prepared statement lives in one
# server connection), so it is off behind PgBouncer too (DB_PGBOUNCER) unless asked for.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", not DB_PGBOUNCER)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", env_int("DB_PREPARE_THRESHOLD", 5))
# Off by default: it costs a `SELECT 1` round trip on every request; turn on behind flaky networks/poolers.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", False)
MIGRATE_DATABASE_URL = env_str("MIGRATE_DATABASE_URL")
MIGRATE_DATABASE = (
    owner_database_from_url(MIGRATE_DATABASE_URL, DATABASES["default"]) if MIGRATE_DATABASE_URL else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Pages in English or German: a person's saved choice, else the header switcher's cookie, else the browser's
# Accept-Language (moderation.language). The API answers in English whatever is asked (its error
# bodies are a contract); audit verbs, logs and metrics are never translated.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "moderation" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve static without collectstatic in development and tests

LOGIN_URL = "login"
# Staff login throttling (per username and per address, in the shared cache).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
# A browser that signed in as a user carries a signed device cookie for them (moderation/login_throttle.py):
# its attempts are counted on their own, so strangers' failures for the username cannot lock it out.
LOGIN_DEVICE_COOKIE_NAME = "login_device"
LOGIN_DEVICE_COOKIE_DAYS = env_int("LOGIN_DEVICE_COOKIE_DAYS", 90)
LOGIN_REDIRECT_URL = "queues:dashboard"
# Who must pass TOTP two-factor after the password: "privileged" (leads, admins, staff: the default), "all",
# or "off" (`make run` turns it off for the local demo, whose passwords are printed anyway).
TWO_FACTOR_REQUIRED = env_choice("TWO_FACTOR_REQUIRED", "privileged", {"privileged", "all", "off"})
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Moderation review")
OTP_TOTP_THROTTLE_FACTOR = 1  # seconds; doubles after each failed code on a device
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a device's key or QR code
LOGOUT_REDIRECT_URL = "login"

# Security headers; HTTPS-only cookies when served behind TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Strict"
# Reverse proxies (CIDRs) whose X-Forwarded-For is believed: only when the peer is one of them, and only the
# hops they appended (moderation/client_ip.py). Empty (the default): the peer address is the client.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Production is HTTPS-only: redirect, HSTS (a year, subdomains, preloadable). Off in development on http://.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Load balancers probe and Prometheus scrapes over plain HTTP inside the network (nginx never proxies /metrics).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# Content-Security-Policy (Django's own, 6.0+): this app's pages load only their own scripts, styles, images
# and XHRs; no inline scripts, no eval, no framing, no plugins, forms post only here. Reported content is
# data, so even if escaping ever failed, a script it carried would not run. Views may set a stricter policy
# (stored media get `default-src 'none'; sandbox`).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- REST API -------------------------------------------------------------------------------------------
# Largest request body the intake API reads; larger bodies get 413 before parsing.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 5 * 1024 * 1024)
API_MAX_BATCH_SIZE = env_int("API_MAX_BATCH_SIZE", 500)
# DRF reads JSON through request.body, which Django caps at this: keep it in step with the API limit
# (larger declared bodies are refused with 413 by moderation.middleware before they are read).
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["moderation.authentication.VendorTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["moderation.authentication.IsVendor"],
    "DEFAULT_PARSER_CLASSES": ["moderation.api_errors.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "moderation.api_errors.api_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "moderation.api_errors.StrictContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["moderation.api_errors.VendorRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"vendor": env_str("API_RATE_LIMIT", "6000/min")},
}
# Signed vendor requests: how far X-Timestamp may be from now (and how long a signature is remembered).
API_SIGNATURE_WINDOW_SECONDS = env_int("API_SIGNATURE_WINDOW_SECONDS", 300)
# Retry-After (seconds) when the database is unreachable and the API answers 503.
API_RETRY_AFTER_SECONDS = env_int("API_RETRY_AFTER_SECONDS", 5)

SPECTACULAR_SETTINGS = {
    "TITLE": "Moderation review platform API",
    "DESCRIPTION": (
        "Vendors and detectors send abuse reports here. Reports on the same subject are grouped into one case, "
        "enriched, routed to a review queue and decided by agents. Every write is idempotent per "
        "(vendor, external_id)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served from our own static files (no CDN: the UI must work offline, under CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A report and an event share "created | duplicate": one named enum, not a hash-suffixed one.
    "ENUM_NAME_OVERRIDES": {"WriteStatusEnum": ["created", "duplicate"]},
}

# --- Celery ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Eager failures surface (logged by the robust on_commit hook) instead of vanishing into an unread result.
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_EAGER_PROPAGATES", True)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis hands an unacked task (a worker killed mid-task, or one holding a countdown) to another worker after
# visibility_timeout: it must exceed the longest time limit plus the longest countdown (the outbox backs off
# up to 1 h), or a waiting retry is delivered twice (tests/moderation/workers checks it). So a task a killed
# worker held on Redis runs again within this (the sweepers cover cases and deliveries sooner); RabbitMQ
# redelivers at once when the connection drops (its consumer_timeout must exceed the same sum: set
# `consumer_timeout = 7200000` in rabbitmq.conf, docs/deployment.md). Checked for such tasks every
# unacked_restore_interval seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 10),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "UTC"
# One queue per kind of work (moderation/task_queues.py); a worker without -Q serves them all.
CELERY_QUEUE_PREFIX = env_str("CELERY_QUEUE_PREFIX", "")
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in task_queues.broker_names(queue_prefix=CELERY_QUEUE_PREFIX)
]
# A worker that lost its broker connection stops its acks-late tasks: the broker hands their messages to
# another worker anyway, and two copies of one task running at once is what idempotency guards must not face.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Celery's Django fixup closes the database connection before and after every task unless this is set: a new
# PostgreSQL connection per task costs more than the task (measured: 37 ms a task → see bench/pipeline.py).
# Connections are still recycled every 2 x this many tasks, and dropped ones are reopened by Django.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_BEAT_SCHEDULE = {
    "sweep-unrouted-cases": {"task": "cases.sweep_unrouted_cases", "schedule": 60.0},
    "release-expired-leases": {"task": "queues.release_expired_leases", "schedule": 30.0},
    "sweep-outbox": {"task": "cases.sweep_outbox", "schedule": 60.0},
    # Deliveries held for a decision's undo window go out within this many seconds of it closing.
    "release-held-deliveries": {"task": "cases.release_held_deliveries", "schedule": 5.0},
    "lift-expired-decisions": {"task": "cases.lift_expired_decisions", "schedule": 60.0},
    "pause-surging-rules": {"task": "queues.pause_surging_rules", "schedule": 300.0},
    "record-queue-health": {"task": "queues.record_queue_health", "schedule": 60.0},
    "refresh-oversight-hours": {"task": "cases.refresh_oversight_hours", "schedule": 300.0},
    "submit-statements": {"task": "cases.submit_statements", "schedule": 60.0},
    "purge-expired-content": {"task": "cases.purge_expired_content", "schedule": 600.0},
    "forget-old-events": {"task": "cases.forget_old_events", "schedule": 3600.0},
    # Reports accepted first (`Prefer: respond-async`) are grouped on demand; this catches a lost message.
    "group-accepted-reports": {"task": "cases.group_accepted_reports", "schedule": 60.0},
}

# --- Operators: metrics, readiness, logs ---------------------------------------------------------------------
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404 (never open by default).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Multiprocess mode (moderation/metrics.py): the directories whose process files /metrics adds up, e.g. web's
# and the worker's on a shared volume. Empty: this process's PROMETHEUS_MULTIPROC_DIR, if set.
METRICS_MULTIPROC_DIRS = env_list("METRICS_MULTIPROC_DIRS", [])
# /readyz fails when no worker has run a task (or its heartbeat task, sent by beat) for this long.
READY_WORKER_HEARTBEAT_SECONDS = env_int("READY_WORKER_HEARTBEAT_SECONDS", 120)
# How long /readyz and /metrics wait for the broker (connect and each command) before calling it down.
BROKER_PROBE_TIMEOUT_SECONDS = env_float("BROKER_PROBE_TIMEOUT_SECONDS", 1.0)
if READY_WORKER_HEARTBEAT_SECONDS < 20:
    raise ImproperlyConfigured(
        "READY_WORKER_HEARTBEAT_SECONDS must be at least 20 (beat sends one every 1/4)"
    )
CELERY_BEAT_SCHEDULE["record-worker-heartbeat"] = {
    "task": "moderation.record_worker_heartbeat",
    "schedule": READY_WORKER_HEARTBEAT_SECONDS / 4,
    "options": {"expires": READY_WORKER_HEARTBEAT_SECONDS / 4},  # a stale beat is no proof of life
}

# Accept-first intake: a report accepted with `Prefer: respond-async` is on its case within about this long.
INTAKE_GROUP_DELAY_SECONDS = env_float("INTAKE_GROUP_DELAY_SECONDS", 1.0)

# --- Enrichment and routing ---------------------------------------------------------------------------------
# How long a case waits for its scorers and context providers before it is routed on what is known.
ENRICHMENT_DEADLINE_SECONDS = env_float("ENRICHMENT_DEADLINE_SECONDS", 5.0)
# Labels must not be only what automation chose to show people: this share of the cases a live rule would
# decide automatically goes to review instead (uniform, by a hash of the case id: re-routing keeps the draw).
REVIEW_SAMPLE_RATE = env_float("REVIEW_SAMPLE_RATE", 0.0)
if not 0.0 <= REVIEW_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("REVIEW_SAMPLE_RATE must be between 0 and 1 (e.g. 0.02 for 2 %)")
# How often a worker asks whether a matching bank changed (one small query); a new entry matches within it.
BANK_RELOAD_SECONDS = env_float("BANK_RELOAD_SECONDS", 30.0)
# A bank CSV (admin upload or import_bank) is refused beyond these: 1M PDQ hashes is ~70 MB.
BANK_IMPORT_MAX_BYTES = env_int("BANK_IMPORT_MAX_BYTES", 96 * 1024 * 1024)
BANK_IMPORT_MAX_ROWS = env_int("BANK_IMPORT_MAX_ROWS", 1_000_000)
ENRICHMENT_MAX_ATTEMPTS = env_int("ENRICHMENT_MAX_ATTEMPTS", 5)
ENRICHMENT_RETRY_BASE_SECONDS = env_float("ENRICHMENT_RETRY_BASE_SECONDS", 10.0)
# Policies, routing rules and signal sources are cached per process this long (saves clear the local copy).
CONFIG_CACHE_SECONDS = env_float("CONFIG_CACHE_SECONDS", 5.0)
# Wellness (moderation/comfort.py): how long one reveal counts as revealed media on screen, and how often the
# header's badges (what waits for me, the break suggestion) refresh.
EXPOSURE_PER_REVEAL_SECONDS = env_int("EXPOSURE_PER_REVEAL_SECONDS", 120)
BADGE_POLL_SECONDS = env_int("BADGE_POLL_SECONDS", 30)
# The sweeper routes cases still unrouted this long after they opened.
ROUTING_GRACE_SECONDS = env_int("ROUTING_GRACE_SECONDS", 60)

# --- Rules that are safe to turn on (blast-radius guards) --------------------------------------------------
# Automatic decisions one rule may make in a UTC day when the rule sets no cap of its own; beyond it, matches
# go to people.
RULE_DEFAULT_DAILY_CAP = env_int("RULE_DEFAULT_DAILY_CAP", 1000)
# A live rule matching more than RULE_SURGE_FACTOR x its mean hourly matches of the previous
# RULE_SURGE_BASELINE_DAYS in the last hour is paused by the system (and at least RULE_SURGE_MIN_MATCHES, so
# that 3 matches after a quiet week trip nothing).
RULE_SURGE_FACTOR = env_float("RULE_SURGE_FACTOR", 5.0)
RULE_SURGE_MIN_MATCHES = env_int("RULE_SURGE_MIN_MATCHES", 20)
RULE_SURGE_BASELINE_DAYS = env_int("RULE_SURGE_BASELINE_DAYS", 7)
# A change that raises a live rule's estimated automatic decisions a day (backtest over this many days) by
# more than this percentage waits for a second admin's approval.
RULE_APPROVAL_BACKTEST_DAYS = env_int("RULE_APPROVAL_BACKTEST_DAYS", 7)
RULE_APPROVAL_MAX_INCREASE_PCT = env_float("RULE_APPROVAL_MAX_INCREASE_PCT", 20.0)
# The longest backtest anyone may ask for (each replays every case opened in the period).
RULE_BACKTEST_MAX_DAYS = env_int("RULE_BACKTEST_MAX_DAYS", 90)
if RULE_SURGE_FACTOR <= 1 or RULE_SURGE_MIN_MATCHES < 1 or RULE_SURGE_BASELINE_DAYS < 1:
    raise ImproperlyConfigured("RULE_SURGE_FACTOR must exceed 1; the surge minimum and baseline days be >= 1")

# Velocity counters (cases.counters): live windowed counts in Redis. Empty: no Redis, live values are computed
# from the database (the point-in-time twin), as they are while Redis is unreachable. The prefix keeps tenants
# (and test runs) sharing one Redis apart; every call gives up after the timeout (seconds).
VELOCITY_REDIS_URL = env_str("VELOCITY_REDIS_URL", "")
VELOCITY_KEY_PREFIX = env_str("VELOCITY_KEY_PREFIX", "velocity")
VELOCITY_REDIS_TIMEOUT = env_float("VELOCITY_REDIS_TIMEOUT", 0.1)

# --- Campaigns (cases.detection.campaigns) --------------------------------------------------------------------
# A campaign forms from this many open cases, by at least CAMPAIGN_MIN_AUTHORS authors (one author's burst is
# velocity, not a campaign).
CAMPAIGN_MIN_MEMBERS = env_int("CAMPAIGN_MIN_MEMBERS", 3)
CAMPAIGN_MIN_AUTHORS = env_int("CAMPAIGN_MIN_AUTHORS", 2)
# Near-duplicate text: LSH candidates are kept when their estimated Jaccard similarity (character 5-grams of
# the normalised text) reaches this. Texts of fewer 5-grams (under about 24 letters) are not clustered: "ok",
# "thanks", "lol" from a thousand people would otherwise make giant false campaigns.
CAMPAIGN_MIN_JACCARD = env_float("CAMPAIGN_MIN_JACCARD", 0.6)
CAMPAIGN_MIN_SHINGLES = env_int("CAMPAIGN_MIN_SHINGLES", 20)
# Hosts shared by half the internet never make a campaign (subdomains included), nor the platform's own.
CAMPAIGN_COMMON_HOSTS = env_list(
    "CAMPAIGN_COMMON_HOSTS",
    [
        "youtube.com",
        "youtu.be",
        "google.com",
        "facebook.com",
        "instagram.com",
        "twitter.com",
        "x.com",
        "tiktok.com",
        "wikipedia.org",
        "reddit.com",
        "amazon.com",
        "apple.com",
        "microsoft.com",
        "github.com",
        "t.co",
        "bit.ly",
        "example.com",
    ],
)
CAMPAIGN_PLATFORM_HOSTS = env_list("CAMPAIGN_PLATFORM_HOSTS", [])
if CAMPAIGN_MIN_MEMBERS < 2 or CAMPAIGN_MIN_AUTHORS < 1 or not 0 < CAMPAIGN_MIN_JACCARD <= 1:
    raise ImproperlyConfigured(
        "CAMPAIGN_MIN_MEMBERS must be at least 2, CAMPAIGN_MIN_AUTHORS at least 1, CAMPAIGN_MIN_JACCARD in (0, 1]"
    )

# --- Agent review -------------------------------------------------------------------------------------------
# A claimed case is the agent's for this long; the open case page renews it every heartbeat, so only an
# abandoned case (closed tab, lost laptop) runs out and goes back to its queue.
CASE_LEASE_SECONDS = env_int("CASE_LEASE_SECONDS", 300)
CASE_HEARTBEAT_SECONDS = env_int("CASE_HEARTBEAT_SECONDS", 30)
if CASE_HEARTBEAT_SECONDS * 2 > CASE_LEASE_SECONDS:
    raise ImproperlyConfigured("CASE_LEASE_SECONDS must be at least twice CASE_HEARTBEAT_SECONDS")
# How many unresolved cases an agent may hold at once (claim-next gives a held one back beyond it; a named
# claim is refused). Second reviews they claimed count; their own decisions awaiting confirmation do not.
CASE_MAX_HELD = env_int("CASE_MAX_HELD", 1)
if CASE_MAX_HELD < 1:
    raise ImproperlyConfigured("CASE_MAX_HELD must be at least 1")
# A skipped case is not offered to the same agent again for this long (a shift).
CASE_SKIP_HOURS = env_int("CASE_SKIP_HOURS", 8)
# Dashboard counts refresh this often (HTMX polling).
DASHBOARD_REFRESH_SECONDS = env_int("DASHBOARD_REFRESH_SECONDS", 15)
QUEUE_PAGE_SIZE = env_int("QUEUE_PAGE_SIZE", 50)
# The queue page counts matching cases up to this many (then says "more than").
QUEUE_COUNT_CAP = env_int("QUEUE_COUNT_CAP", 10_000)
# Global search (header box): hits per group (cases, subjects, authors); the text match's time limit on
# PostgreSQL (a very common word answers "narrow it down" instead of holding a connection).
SEARCH_RESULTS_LIMIT = env_int("SEARCH_RESULTS_LIMIT", 10)
SEARCH_TEXT_TIMEOUT_MS = env_int("SEARCH_TEXT_TIMEOUT_MS", 250)
# ... and first the walk of the newest cases, text by text (finds a common word's page at once; 0: off).
SEARCH_TEXT_WALK_MS = env_int("SEARCH_TEXT_WALK_MS", 30)
# A queue page filtered by text (`q`): its statements' time limit on PostgreSQL (then "add a word").
QUEUE_TEXT_TIMEOUT_MS = env_int("QUEUE_TEXT_TIMEOUT_MS", 1000)
# Subject and author timelines: entries per page (keyset pagination, newest first).
TIMELINE_PAGE_SIZE = env_int("TIMELINE_PAGE_SIZE", 50)
# Queue counts are computed once for all agents this often (each dashboard polls them).
QUEUE_STATS_CACHE_SECONDS = env_int("QUEUE_STATS_CACHE_SECONDS", 5)
# The outbox's undelivered counts (lead badge, dashboards' banner, Sources): shared by all leads this long.
OUTBOX_STATS_CACHE_SECONDS = env_int("OUTBOX_STATS_CACHE_SECONDS", 5)
# The leads' queue-health history: a snapshot a minute kept this many days, then one an hour kept this long.
SNAPSHOT_MINUTE_DAYS = env_int("SNAPSHOT_MINUTE_DAYS", 2)
SNAPSHOT_HOUR_DAYS = env_int("SNAPSHOT_HOUR_DAYS", 400)

# The platform's appeal page, for the {appeal_link} placeholder of message templates ({decision_id} is
# filled in), e.g. https://platform.example/appeals/new?decision={decision_id}. Empty: no link to offer.
APPEAL_URL_TEMPLATE = env_str("APPEAL_URL_TEMPLATE", "")
# Appeal cases go to this queue (created on first use; add its members in the admin).
APPEALS_QUEUE_SLUG = env_str("APPEALS_QUEUE_SLUG", "appeals")
# Appeals of decisions on restricted cases (child safety...) go here instead: a restricted queue.
APPEALS_RESTRICTED_QUEUE_SLUG = env_str("APPEALS_RESTRICTED_QUEUE_SLUG", "appeals-restricted")
# A restricted case that no rule sends to a restricted queue lands here (never in an open queue).
RESTRICTED_TRIAGE_QUEUE_SLUG = env_str("RESTRICTED_TRIAGE_QUEUE_SLUG", "restricted-triage")

# Largest audit log CSV export (rows); narrow the filters for more.
AUDIT_EXPORT_MAX_ROWS = env_int("AUDIT_EXPORT_MAX_ROWS", 100_000)

# --- Outbox: signed webhooks (enforcements to the platform, vendor callbacks to vendors) ---------------------
# Attempts before a delivery is marked failed (then a lead can retry); a transient failure is retried after
# a backoff doubling from the shared base (with jitter, capped at an hour). Each kind has its own limit.
ENFORCEMENT_MAX_ATTEMPTS = env_int("ENFORCEMENT_MAX_ATTEMPTS", 8)
VENDOR_CALLBACK_MAX_ATTEMPTS = env_int("VENDOR_CALLBACK_MAX_ATTEMPTS", 8)
ENFORCEMENT_RETRY_BASE_SECONDS = env_float("ENFORCEMENT_RETRY_BASE_SECONDS", 30.0)
# Enforcements wait for the active endpoint's own timeout (admin); vendor callbacks for this one.
VENDOR_CALLBACK_TIMEOUT_SECONDS = env_float("VENDOR_CALLBACK_TIMEOUT_SECONDS", 10.0)
# A pending delivery whose task should have run this long ago is enqueued again by the beat sweeper (one the
# broker refused is taken at the next sweep).
ENFORCEMENT_STALE_SECONDS = env_int("ENFORCEMENT_STALE_SECONDS", 900)
# An outbox claim outlives its HTTP call by this much (cases/services/outbox.py); a worker killed mid-call
# holds its row no longer than the call's timeout plus this, then the sweeper sends it again (same key).
OUTBOX_CLAIM_MARGIN_SECONDS = env_int("OUTBOX_CLAIM_MARGIN_SECONDS", 30)
if min(ENFORCEMENT_MAX_ATTEMPTS, VENDOR_CALLBACK_MAX_ATTEMPTS) < 1:
    raise ImproperlyConfigured("ENFORCEMENT_MAX_ATTEMPTS and VENDOR_CALLBACK_MAX_ATTEMPTS must be at least 1")
if not 0 < VENDOR_CALLBACK_TIMEOUT_SECONDS <= 60:
    raise ImproperlyConfigured("VENDOR_CALLBACK_TIMEOUT_SECONDS must be over 0 and at most 60")

# --- Second chances -------------------------------------------------------------------------------------------
# After a decision its decider may undo it for this many seconds (the toast's Undo); enforcement webhooks,
# the user's message, vendor callbacks and the DSA statement wait until the window closes. 0: no undo, effects
# go out at once.
DECISION_UNDO_SECONDS = env_int("DECISION_UNDO_SECONDS", 10)
if not 0 <= DECISION_UNDO_SECONDS <= 600:
    raise ImproperlyConfigured("DECISION_UNDO_SECONDS must be between 0 and 600")
# Bulk decide: the most cases one batch may decide ("all matching the filter" is capped to this).
BULK_DECIDE_MAX_CASES = env_int("BULK_DECIDE_MAX_CASES", 500)
if not 1 <= BULK_DECIDE_MAX_CASES <= 1000:
    raise ImproperlyConfigured("BULK_DECIDE_MAX_CASES must be between 1 and 1000")

# --- EU DSA statements of reasons (Transparency Database) ---------------------------------------------------
# The multiple-statements endpoint, e.g. https://transparency.dsa.ec.europa.eu/api/v1/statements (sandbox
# first); empty: statements are built and kept pending, nothing is sent. The token is the platform's API token.
DSA_TDB_URL = env_str("DSA_TDB_URL", "")
DSA_TDB_TOKEN = env_str("DSA_TDB_TOKEN", "")
DSA_TDB_TIMEOUT_SECONDS = env_float("DSA_TDB_TIMEOUT_SECONDS", 30.0)
DSA_SUBMIT_MAX_ATTEMPTS = env_int("DSA_SUBMIT_MAX_ATTEMPTS", 8)
DSA_RETRY_BASE_SECONDS = env_float("DSA_RETRY_BASE_SECONDS", 60.0)
# Statement ids are `<prefix>-decision-<id>`: letters, digits, - and _ only (the TDB's puid charset).
DSA_PUID_PREFIX = env_str("DSA_PUID_PREFIX", "mod")
# Where a restriction applies (ISO country codes, EU/EEA): the whole EU unless set.
_EU_COUNTRIES = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip
DSA_TERRITORIAL_SCOPE = env_list("DSA_TERRITORIAL_SCOPE", _EU_COUNTRIES)
if not DSA_PUID_PREFIX or not all(c.isascii() and (c.isalnum() or c in "-_") for c in DSA_PUID_PREFIX):
    raise ImproperlyConfigured("DSA_PUID_PREFIX may hold only letters, digits, - and _")
if DSA_TDB_URL and not DSA_TDB_TOKEN:
    raise ImproperlyConfigured("DSA_TDB_URL needs DSA_TDB_TOKEN (the Transparency Database API token)")
if DSA_SUBMIT_MAX_ATTEMPTS < 1 or not 0 < DSA_TDB_TIMEOUT_SECONDS <= 60:
    raise ImproperlyConfigured("DSA_SUBMIT_MAX_ATTEMPTS must be ≥ 1 and DSA_TDB_TIMEOUT_SECONDS in (0, 60]")

# --- Outbound HTTP (scorers, context providers, webhooks) ----------------------------------------------
# Private, loopback and link-local targets are refused unless this is on (tests and the demo use loopback).
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env_bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", False)
OUTBOUND_MAX_RESPONSE_BYTES = env_int("OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024)
OUTBOUND_DEFAULT_TIMEOUT = env_float("OUTBOUND_DEFAULT_TIMEOUT", 5.0)
# Reported media: copied by a worker through the guarded client, served to agents from here (cases.detection.media).
MEDIA_FETCH = env_bool("MEDIA_FETCH", True)
MEDIA_FETCH_TIMEOUT = env_float("MEDIA_FETCH_TIMEOUT", 10.0)
MEDIA_MAX_BYTES = env_int("MEDIA_MAX_BYTES", 8 * 1024 * 1024)
MEDIA_MAX_PIXELS = env_int("MEDIA_MAX_PIXELS", 40_000_000)  # a small file can decode to gigapixels

# --- Retention ----------------------------------------------------------------------------------------------
# Subjects purged per transaction batch, and batches per beat run: a run stays well inside the task's time
# limit; what is left is due again on the next run.
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 100)
RETENTION_MAX_BATCHES = env_int("RETENTION_MAX_BATCHES", 20)

# json (the production default): one JSON object a line, with request_id / task_id / task_name when known
# (moderation.request_context); plain: the same fields appended to a readable line.
LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "plain", {"json", "plain"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "moderation.request_context.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s [request=%(request_id)s]"},
        "json": {"()": "moderation.request_context.JSONFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Lead dashboards (Outcomes, Reporters & vendors): the beat task rebuilds the hourly roll-ups of this many
# past hours every 5 minutes. Decisions confirmed or reports judged later than that keep the counts they had.
OVERSIGHT_REFRESH_HOURS = env_int("OVERSIGHT_REFRESH_HOURS", 3)
if OVERSIGHT_REFRESH_HOURS < 1:
    raise ImproperlyConfigured("OVERSIGHT_REFRESH_HOURS must be at least 1")

# --- Platform events (cases.services.events, `manage.py consume_events`, POST /api/v1/events) ---------------
# Events are kept for the rules' counters this many days, then forgotten (`forget_old_events`).
EVENT_RETENTION_DAYS = env_int("EVENT_RETENTION_DAYS", 30)
# The NATS server the consumers read from (JetStream on), and the stream consumer's defaults.
EVENTS_NATS_URL = env_str("EVENTS_NATS_URL", "nats://127.0.0.1:4222")
EVENTS_ACK_WAIT_SECONDS = env_float("EVENTS_ACK_WAIT_SECONDS", 30.0)
EVENTS_MAX_DELIVER = env_int("EVENTS_MAX_DELIVER", 5)
if EVENT_RETENTION_DAYS < 1 or EVENTS_ACK_WAIT_SECONDS <= 0 or EVENTS_MAX_DELIVER < 2:
    raise ImproperlyConfigured(
        "EVENT_RETENTION_DAYS >= 1, EVENTS_ACK_WAIT_SECONDS > 0, EVENTS_MAX_DELIVER >= 2"
    )
