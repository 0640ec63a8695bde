"""Settings shared by every environment. Environment variables are read here, once."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from config.env import env_bool, env_float, env_int, env_list, env_prices, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("SECRET_KEY", "insecure-local-key-change-me-0123456789abcdefghijklmnop")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "channels",
    "django_prometheus",
    "ops",
    "elicitation",
    "moralgraph",
    "dashboard",
]

MIDDLEWARE = [
    "ops.middleware.OpsMiddleware",  # probes and /metrics first, before host and TLS checks
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "elicitation.middleware.WriteRefusedMiddleware",
    "axes.middleware.AxesMiddleware",  # after the others: it answers a locked-out login
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Login throttling (django-axes) on /admin/ and the dashboard, which logs in through it: after
# MGE_LOGIN_FAILURE_LIMIT wrong passwords from one client address, that address is locked out
# for MGE_LOGIN_COOLOFF_MINUTES. The address is read behind MGE_TRUSTED_PROXY_COUNT proxies.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("MGE_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("MGE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "elicitation.clientaddr.client_address"
AXES_RESET_ON_SUCCESS = True

# Content-Security-Policy (django-csp): our own scripts, styles and sockets only; no inline
# script or style, no plugins, no framing. Templates and static files must keep to it.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections: ORM calls from sockets run on pool threads, and opening a
        # connection per call cost more than the queries themselves under load.
        conn_max_age=env_int("DB_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the ASGI server's thread pool write concurrently without
    # "database is locked" under a burst of interview messages.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "/admin/login/"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py's default 5 s read timeout equals the layer's 5 s blocking pop, so an
            # idle socket's receive could time out and close the socket (1011); read longer.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    # Rate limits live in the cache, so every web process must share it.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True

# Work is acknowledged only after the task finished, so a worker or broker restart re-runs it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# On Redis a delivered task waits in an "unacked" set until acknowledged; a worker's sweep puts it
# back on the queue once it is older than the visibility timeout, so a killed worker's task runs
# again about an hour after it was delivered. The timeout must outlast the longest task (job_run:
# 57 min) and any countdown, or a live task runs twice. A redelivered dashboard job runs only if
# stale (MGE_JOB_STALE_SECONDS, shorter), else it looks again when it would be. kombu sweeps as a
# worker starts and then every 10th tick of 10 s; here every minute. Tests shorten both for their
# worker processes.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 60),
    "unacked_restore_throttle": 1,
}
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
# Celery beat (`celery -A config beat`) checks every open study's update cadence each minute;
# without beat, `manage.py refresh_studies` from cron does the same.
CELERY_BEAT_SCHEDULE = {
    "refresh-due-studies": {"task": "dashboard.tasks.studies_refresh_due", "schedule": 60.0}
}

# --- LLM (any OpenAI-compatible endpoint) ---
LLM_BASE_URL = env_str("LLM_BASE_URL")
LLM_API_KEY = env_str("LLM_API_KEY") or env_str("OPENAI_API_KEY")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 60.0)
# Streams: the longest wait for any chunk (the first included), and for the whole reply.
LLM_STREAM_IDLE_SECONDS = env_float("LLM_STREAM_IDLE_SECONDS", 30.0)
LLM_STREAM_TOTAL_SECONDS = env_float("LLM_STREAM_TOTAL_SECONDS", 180.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 3)
# The most tokens any one answer may run to, where a call sets no lower cap. A small model in
# JSON mode can emit whitespace until its context is full (seen: 20 minutes on a CPU server).
LLM_MAX_OUTPUT_TOKENS = env_int("LLM_MAX_OUTPUT_TOKENS", 2048)
LLM_RETRY_BASE_SECONDS = env_float("LLM_RETRY_BASE_SECONDS", 0.5)
# USD per 1M tokens (input, output) by model name, for the spend shown on a study; a model not in
# the table shows its tokens and "price not set". LLM_PRICES="my-model=0.2/0.6;..." adds or
# overrides entries.
LLM_PRICES = env_prices(
    "LLM_PRICES",
    {
        "gpt-4o": (2.5, 10.0),
        "gpt-4o-mini": (0.15, 0.6),
        "gpt-4.1": (2.0, 8.0),
        "gpt-4.1-mini": (0.4, 1.6),
        "gpt-4.1-nano": (0.1, 0.4),
    },
)

# --- Participant-facing limits ---
MGE_MESSAGE_MAX_CHARS = env_int("MGE_MESSAGE_MAX_CHARS", 4000)
MGE_FRAME_MAX_BYTES = env_int("MGE_FRAME_MAX_BYTES", 16384)
MGE_CHAT_RATE_PER_MINUTE = env_int("MGE_CHAT_RATE_PER_MINUTE", 20)
MGE_LLM_FAILURES_BEFORE_FALLBACK = env_int("MGE_LLM_FAILURES_BEFORE_FALLBACK", 3)
# Cost caps (elicitation/costcaps.py), 0 switches one off. A study without its own token budget
# gets MGE_STUDY_TOKEN_BUDGET; reaching it or the dollar cap sends new turns to the guided form.
MGE_STUDY_TOKEN_BUDGET = env_int("MGE_STUDY_TOKEN_BUDGET", 20_000_000)
MGE_STUDY_SPEND_CAP_USD = env_float("MGE_STUDY_SPEND_CAP_USD", 100.0)
MGE_INTERVIEW_TOKEN_CAP = env_int("MGE_INTERVIEW_TOKEN_CAP", 150_000)
MGE_LLM_CALLS_PER_MESSAGE = env_int("MGE_LLM_CALLS_PER_MESSAGE", 4)
MGE_DB_THREADS = env_int("MGE_DB_THREADS", 2)  # ORM threads per ASGI process (elicitation/asyncdb)
# Hypotheses shown to each voter (kept within 3 to 10), and votes accepted per minute.
MGE_VOTES_PER_DRAW = env_int("MGE_VOTES_PER_DRAW", 5)
MGE_VOTE_RATE_PER_MINUTE = env_int("MGE_VOTE_RATE_PER_MINUTE", 30)
# Reverse proxies in front of the app that append to X-Forwarded-For (nginx: 1). 0 trusts none.
MGE_TRUSTED_PROXY_COUNT = env_int("MGE_TRUSTED_PROXY_COUNT", 0)
# New participants one client address may create per study and hour on an open link.
MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = env_int("MGE_ADMISSIONS_PER_CLIENT_PER_HOUR", 5)
MGE_PARTICIPANT_COOKIE = "mge_participant"
MGE_PARTICIPANT_COOKIE_MAX_AGE = 60 * 60 * 24 * 60

# --- Moral graph ---
# Cosine similarities between a new card and the study's values (all-MiniLM-L6-v2): at or above
# SAME a card joins the nearest value unasked; from CANDIDATE up, values go to the LLM judge.
MGE_DEDUPE_CANDIDATE_THRESHOLD = env_float("MGE_DEDUPE_CANDIDATE_THRESHOLD", 0.6)
MGE_DEDUPE_SAME_THRESHOLD = env_float("MGE_DEDUPE_SAME_THRESHOLD", 0.95)
# The same for a context an interview wrote in new words against its question's contexts. Short
# phrases embed noisily (paraphrases 0.22-0.86, unrelated ones up to 0.55) and a question has few
# contexts, so the embedding only ranks them: the judge sees the nearest five of nearly all.
MGE_CONTEXT_CANDIDATE_THRESHOLD = env_float("MGE_CONTEXT_CANDIDATE_THRESHOLD", 0.1)
MGE_CONTEXT_SAME_THRESHOLD = env_float("MGE_CONTEXT_SAME_THRESHOLD", 0.85)
# Queue deduplication when a card is confirmed. With eager Celery (no REDIS_URL) it runs inside
# the confirming request, and the first one in a process loads the embedding model (~11 s).
MGE_DEDUPE_ON_CONFIRM = env_bool("MGE_DEDUPE_ON_CONFIRM", True)
# Load the embedding model in the background at start-up (scripts/serve.sh sets it): with eager
# Celery, deduplication runs inside the confirm request, which would otherwise wait ~10 s.
MGE_WARM_ENCODER = env_bool("MGE_WARM_ENCODER", False)

# --- Organizer dashboard ---
# How often a dashboard socket re-reads a study's numbers (it pushes only what changed).
MGE_DASHBOARD_PUSH_SECONDS = env_float("MGE_DASHBOARD_PUSH_SECONDS", 2.0)
# Where exported bundles are written for download (one folder per study and graph version).
MGE_EXPORT_ROOT = env_str("MGE_EXPORT_ROOT", str(BASE_DIR / "var" / "exports"))
# The key of the rater hashes in exports that include votes; unset, votes cannot be exported.
# Read when an export runs, never stored with the job.
MGE_EXPORT_SALT = env_str("MGE_EXPORT_SALT")
# A queued or running job with no progress for this long is shown as interrupted (its worker
# is likely gone) and the same kind may be started again.
MGE_JOB_STALE_SECONDS = env_int("MGE_JOB_STALE_SECONDS", 900)
# A job whose model is unavailable is queued again after a backoff (first wait up to
# MGE_JOB_RETRY_SECONDS, doubling, with jitter) and fails after MGE_JOB_MAX_ATTEMPTS runs.
MGE_JOB_MAX_ATTEMPTS = env_int("MGE_JOB_MAX_ATTEMPTS", 4)
MGE_JOB_RETRY_SECONDS = env_float("MGE_JOB_RETRY_SECONDS", 30.0)
# Run jobs inside the request that starts them (tests); otherwise on a Celery worker, or on a
# thread of the web process when there is no broker (eager Celery).
MGE_JOBS_INLINE = False
# Simulated participants in flight at once in a pilot started from the dashboard.
MGE_SIMULATE_CONCURRENCY = env_int("MGE_SIMULATE_CONCURRENCY", 4)

# --- Rater quality (moralgraph/core/raters.py) ---
# A burst: this many participants from one client (keyed address hash) within this many minutes.
MGE_FLAG_BURST_COUNT = env_int("MGE_FLAG_BURST_COUNT", 5)
MGE_FLAG_BURST_MINUTES = env_float("MGE_FLAG_BURST_MINUTES", 10.0)
# Too fast: answered sooner than the shown text takes at this reading speed, in this share of
# the rater's votes or more.
MGE_FLAG_READING_CHARS_PER_SECOND = env_float("MGE_FLAG_READING_CHARS_PER_SECOND", 40.0)
MGE_FLAG_FAST_SHARE = env_float("MGE_FLAG_FAST_SHARE", 0.5)
# Same pattern: this many raters or more with identical answers on the same items (each with at
# least PATTERN_MIN_VOTES votes); constant: one answer over CONSTANT_MIN_VOTES votes or more.
MGE_FLAG_PATTERN_MIN_VOTES = env_int("MGE_FLAG_PATTERN_MIN_VOTES", 4)
MGE_FLAG_PATTERN_GROUP = env_int("MGE_FLAG_PATTERN_GROUP", 3)
MGE_FLAG_CONSTANT_MIN_VOTES = env_int("MGE_FLAG_CONSTANT_MIN_VOTES", 6)
# The publishing gate fails while flagged raters cast more than this share of the votes.
MGE_GATE_MAX_FLAGGED_SHARE = env_float("MGE_GATE_MAX_FLAGGED_SHARE", 0.1)

# --- Moderation of text shown to other participants (new values from cards, generated stories) ---
# "auto": the moderation endpoint when LLM_MODERATION_MODEL is set (e.g. omni-moderation-latest,
# at LLM_BASE_URL), else the LLM judge prompt, else the organizer approves each on the dashboard.
# "off": shown unchecked (trusted pilots only).
MGE_MODERATION = env_str("MGE_MODERATION", "auto")
LLM_MODERATION_MODEL = env_str("LLM_MODERATION_MODEL", "")
# --- Operations (ops/) ---
# /metrics asks for `Authorization: Bearer <token>` when this is set; nginx refuses /metrics.
MGE_METRICS_TOKEN = env_str("MGE_METRICS_TOKEN")
# A Celery worker serves its metrics on this port (0: not at all).
MGE_WORKER_METRICS_PORT = env_int("MGE_WORKER_METRICS_PORT", 0)
# "json": one JSON object per line with request and interview ids; "text": for people.
LOG_FORMAT = env_str("LOG_FORMAT", "text")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "ops.logcontext.ContextFilter"}},
    "formatters": {
        "json": {"()": "ops.logcontext.LogFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
