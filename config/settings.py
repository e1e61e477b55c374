"""Settings for M3IT Studio, all read from environment variables (django-environ).

Defaults make `make run` work on a bare machine: SQLite under var/, an embedded filesystem
broker under var/, local file storage under var/. Production sets DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY, ALLOWED_HOSTS and DEBUG=false.
"""

import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules
env = environ.Env()
# `make run` copies .env.example to .env; the test suite ignores it so a developer's .env cannot change it.
if (BASE_DIR / ".env").exists() and not TESTING:
    environ.Env.read_env(BASE_DIR / ".env")

VAR_DIR = Path(env.str("M3IT_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _dev_secret_key() -> str:
    """A per-checkout key for development and tests, generated once, never used in production."""
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")
    SECRET_KEY = _dev_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotator",
    "home",
    "pipeline",
    "qc",
    "training",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # Accept-Language or the language cookie
    "django.middleware.common.CommonMiddleware",
    "config.middleware.RejectNulInQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "annotator.language.UserLanguageMiddleware",  # a signed-in user's stored choice wins
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into the lockout page
    "config.error_pages.StyledErrorPagesMiddleware",  # make run (DEBUG): our 404/500 pages, no settings shown
]
# Error reports (debug pages, mails to admins) mask the password of every URL they show.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_pages.MaskingExceptionReporterFilter"
DEBUG_TECHNICAL_ERRORS = env.bool("DEBUG_TECHNICAL_ERRORS", default=False)

ROOT_URLCONF = "config.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.navigation",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

# --- database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + immediate transactions let the web process and a worker write side by side;
    # the test database is a file so a real worker process can share it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE", "timeout": 30}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:  # a fast hasher: the suite creates hundreds of users; never used outside pytest
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# --- login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is locked out for AXES_COOLOFF_MINUTES, whatever password comes next (web login and admin).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The interface languages (task content is never translated by these). zh-hans: Simplified Chinese.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG or TESTING
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
EXPORT_ROOT = Path(env.str("EXPORT_ROOT", default=str(VAR_DIR / "exports")))
# Training runs (checkpoints, metrics, TensorBoard logs) live in folders below TRAINING_ROOT.
TRAINING_ROOT = Path(env.str("TRAINING_ROOT", default=str(VAR_DIR / "training")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- images (validated before storing) -----------------------------------------------------
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=20 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_MAX_SIDE = env.int("IMAGE_MAX_SIDE", default=16_384)

# --- imports (pipeline.imports) ------------------------------------------------------------------
# Server-side imports read only below IMPORT_ROOT; web uploads are unpacked there too.
IMPORT_ROOT = Path(env.str("IMPORT_ROOT", default=str(VAR_DIR / "imports")))
IMPORT_UPLOAD_MAX_BYTES = env.int("IMPORT_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
IMPORT_ZIP_MAX_BYTES = env.int("IMPORT_ZIP_MAX_BYTES", default=2 * 1024 * 1024 * 1024)
IMPORT_ZIP_MAX_ENTRIES = env.int("IMPORT_ZIP_MAX_ENTRIES", default=200_000)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=1000)
# A batch also ends when its new images pass this many bytes (they are held in memory until the commit).
IMPORT_BATCH_MAX_BYTES = env.int("IMPORT_BATCH_MAX_BYTES", default=64 * 1024 * 1024)
# A row whose meta nests deeper than this is rejected: PostgreSQL's jsonb and the export's encoder
# (orjson: 254 levels) refuse deep values, and no source dataset needs more than a handful of levels.
IMPORT_META_MAX_DEPTH = env.int("IMPORT_META_MAX_DEPTH", default=32)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotator.authentication.SessionAuthentication",  # 401 + WWW-Authenticate for a wrong token
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "annotator.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per caller: anonymous by address, signed-in by user (counts kept in the default cache).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute" if not TESTING else "100000/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute" if not TESTING else "100000/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "M3IT Studio API",
    "DESCRIPTION": "Build a multimodal multilingual instruction-tuning dataset the way M3IT did.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs need a login outside development (`make run` keeps them open).
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny" if DEBUG else "rest_framework.permissions.IsAuthenticated"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One schema name per choice set, however many serializers use it (else drf_spectacular.W001).
    "ENUM_NAME_OVERRIDES": {"SplitEnum": "annotator.models.Split"},
}

# --- Celery ---------------------------------------------------------------------------------
# Default: kombu's filesystem transport under var/ (a real worker, no server). CI/production: Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / ("test-broker" if TESTING else "broker"))))
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # exchange bindings; kombu's default is ./control in whatever directory the process runs in
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Unacknowledged messages are redelivered after this many seconds (a worker that died).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# A running job whose heartbeat is older than this is taken to have lost its worker.
JOB_STALE_AFTER_SECONDS = env.int("JOB_STALE_AFTER_SECONDS", default=120)
# Every worker re-sends stale running jobs and lost or unsent queued jobs this often (0: only at start).
JOB_SWEEP_SECONDS = env.float("JOB_SWEEP_SECONDS", default=30)
JOB_PROGRESS_MIN_INTERVAL = env.float("JOB_PROGRESS_MIN_INTERVAL", default=0.5)

# --- LLM paraphrasing (any OpenAI-compatible endpoint) ---------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
PARAPHRASE_MODEL = env.str("PARAPHRASE_MODEL", default="gpt-3.5-turbo")
# Limits apply per worker process (each runs its chunks on its own event loop).
PARAPHRASE_CONCURRENCY = env.int("PARAPHRASE_CONCURRENCY", default=16)
PARAPHRASE_REQUESTS_PER_MINUTE = env.int("PARAPHRASE_REQUESTS_PER_MINUTE", default=3000)
PARAPHRASE_TOKENS_PER_MINUTE = env.int("PARAPHRASE_TOKENS_PER_MINUTE", default=200_000)
# Where every worker shares those limits: a Redis URL; empty means the Celery broker when it is Redis, else
# each worker process limits itself (pipeline.paraphrase.ratelimit).
PARAPHRASE_RATE_LIMIT_URL = env.str("PARAPHRASE_RATE_LIMIT_URL", default="")
PARAPHRASE_RATE_WINDOW_SECONDS = env.int("PARAPHRASE_RATE_WINDOW_SECONDS", default=60)  # the "minute" of the limits
PARAPHRASE_MAX_ATTEMPTS = env.int("PARAPHRASE_MAX_ATTEMPTS", default=5)
PARAPHRASE_BACKOFF_BASE_SECONDS = env.float("PARAPHRASE_BACKOFF_BASE_SECONDS", default=0.5)
PARAPHRASE_BACKOFF_MAX_SECONDS = env.float("PARAPHRASE_BACKOFF_MAX_SECONDS", default=30.0)
PARAPHRASE_TIMEOUT_SECONDS = env.float("PARAPHRASE_TIMEOUT_SECONDS", default=30.0)
PARAPHRASE_MAX_OUTPUT_TOKENS = env.int("PARAPHRASE_MAX_OUTPUT_TOKENS", default=160)
PARAPHRASE_CHUNK_SIZE = env.int("PARAPHRASE_CHUNK_SIZE", default=100)
# US dollars per million tokens, for the estimate before a run and the cost during it.
PARAPHRASE_PRICE_INPUT_PER_MTOK = env.float("PARAPHRASE_PRICE_INPUT_PER_MTOK", default=0.50)
PARAPHRASE_PRICE_OUTPUT_PER_MTOK = env.float("PARAPHRASE_PRICE_OUTPUT_PER_MTOK", default=1.50)
PARAPHRASE_EST_OUTPUT_TOKENS = env.int("PARAPHRASE_EST_OUTPUT_TOKENS", default=30)

# --- evaluation: the LLM judge and OpenAI-compatible endpoints under evaluation --------------
# Both go through the paraphrase client (pipeline llm): same limits, retries and backoff settings.
JUDGE_MODEL = env.str("JUDGE_MODEL", default="gpt-4")
JUDGE_BASE_URL = env.str("JUDGE_BASE_URL", default="") or None  # empty: OPENAI_BASE_URL
JUDGE_API_KEY = env.str("JUDGE_API_KEY", default="")  # empty: OPENAI_API_KEY
JUDGE_SAMPLES_PER_ORDER = env.int("JUDGE_SAMPLES_PER_ORDER", default=3)
JUDGE_TEMPERATURE = env.float("JUDGE_TEMPERATURE", default=1.0)
JUDGE_MAX_OUTPUT_TOKENS = env.int("JUDGE_MAX_OUTPUT_TOKENS", default=400)
JUDGE_PARSE_RETRIES = env.int("JUDGE_PARSE_RETRIES", default=1)  # unusable replies asked again, then dropped
JUDGE_PRICE_INPUT_PER_MTOK = env.float("JUDGE_PRICE_INPUT_PER_MTOK", default=30.0)
JUDGE_PRICE_OUTPUT_PER_MTOK = env.float("JUDGE_PRICE_OUTPUT_PER_MTOK", default=60.0)
JUDGE_EST_OUTPUT_TOKENS = env.int("JUDGE_EST_OUTPUT_TOKENS", default=120)
EVAL_ENDPOINT_BASE_URL = env.str("EVAL_ENDPOINT_BASE_URL", default="") or None  # empty: OPENAI_BASE_URL
EVAL_ENDPOINT_API_KEY = env.str("EVAL_ENDPOINT_API_KEY", default="")  # empty: OPENAI_API_KEY
EVAL_ENDPOINT_MAX_OUTPUT_TOKENS = env.int("EVAL_ENDPOINT_MAX_OUTPUT_TOKENS", default=64)

# --- models ---------------------------------------------------------------------------------
TRANSLATION_MODEL = env.str("TRANSLATION_MODEL", default="facebook/nllb-200-distilled-1.3B")

# --- Stage IV translation (pipeline.translation) -------------------------------------------
# transformers (the reference), ctranslate2 (the fast path) or openai (any OpenAI-compatible endpoint,
# through the paraphrase stage's client and limits; TRANSLATION_MODEL then names the chat model).
TRANSLATION_BACKEND = env.str("TRANSLATION_BACKEND", default="transformers")
TRANSLATION_MIN_BLEU = env.float("TRANSLATION_MIN_BLEU", default=20.0)  # the paper keeps BLEU > 20
TRANSLATION_DEVICE = env.str("TRANSLATION_DEVICE", default="auto")  # auto, cpu, cuda, cuda:1
# transformers: auto = bf16 on GPU, fp32 on CPU. ctranslate2: auto = int8 on CPU, int8_float16 on GPU.
TRANSLATION_DTYPE = env.str("TRANSLATION_DTYPE", default="auto")
TRANSLATION_CT2_QUANTIZATION = env.str("TRANSLATION_CT2_QUANTIZATION", default="auto")
TRANSLATION_CT2_DIR = env.str("TRANSLATION_CT2_DIR", default="")  # empty: beside the model
TRANSLATION_THREADS = env.int("TRANSLATION_THREADS", default=0)  # CPU threads; 0: the library's default
TRANSLATION_BEAM_SIZE = env.int("TRANSLATION_BEAM_SIZE", default=4)
TRANSLATION_BATCH_TOKENS = env.int("TRANSLATION_BATCH_TOKENS", default=4096)  # source tokens per batch
TRANSLATION_MAX_INPUT_TOKENS = env.int("TRANSLATION_MAX_INPUT_TOKENS", default=200)  # longer: split at sentences
TRANSLATION_SAMPLES_PER_SPLIT = env.int("TRANSLATION_SAMPLES_PER_SPLIT", default=500)
TRANSLATION_SEED = env.int("TRANSLATION_SEED", default=1234)
TRANSLATION_CHUNK_SIZE = env.int("TRANSLATION_CHUNK_SIZE", default=100)  # samples per (task, split, language) chunk
TRANSLATION_WORKERS = env.int("TRANSLATION_WORKERS", default=1)  # gpu-queue workers, for the time estimate

# --- security (check --deploy clean when DEBUG is off) --------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not TESTING)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not TESTING)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not TESTING)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # One line per LLM request is noise at INFO; the paraphrase job records every request itself.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "openai")},
}
