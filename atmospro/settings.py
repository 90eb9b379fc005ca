"""Settings, read from the environment only (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

from atmospro.env import ConfigError, Environment, deployment_cache_prefix
from github_app.http import is_loopback_host
from observability.logs import LOG_FORMATS, logging_config
from sts.signing_keys import dev_session_key, load_private_key, load_public_key

BASE_DIR = Path(__file__).resolve().parent.parent
env = Environment()

DEBUG = env.boolean("DEBUG", True)
VAR_DIR = Path(env.string("VAR_DIR", str(BASE_DIR / "var")))


def _required_secret(name: str, dev_default: str | None) -> str | None:
    value = env.secret(name)
    if value is None and not DEBUG:
        raise ConfigError(f"{name} (or {name}_FILE) is required when DEBUG is False.")
    return value if value is not None else dev_default


SECRET_KEY = _required_secret("SECRET_KEY", "django-insecure-development-only-key-not-for-production")
ALLOWED_HOSTS = env.strings("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS is required when DEBUG is False.")
if (
    DEBUG
    and env.raw("DEBUG") is None
    and any(not is_loopback_host(host) for host in ALLOWED_HOSTS if host != "testserver")
):
    # DEBUG defaults to True for a newcomer's machine; a deployment that names real hosts and forgot
    # DEBUG would run on invented secrets. It must say which it is.
    raise ConfigError(
        "ALLOWED_HOSTS names hosts beyond this machine while DEBUG is unset (development by default): "
        "set DEBUG=False for a deployment, or DEBUG=True to serve a development server on the network."
    )
CSRF_TRUSTED_ORIGINS = env.strings("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin with this product's site: workspace members log in, each sees only their workspaces.
    "workspaces.admin_apps.AtmosAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # The API's OpenAPI description (/api/v1/schema/) and its docs page, with Swagger UI from our static files.
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "workspaces",
    "audit",
    "sts",
    "sts.webhooks",
    # The audit review pages (/audit/): above the three apps it reads, imported by nothing but the URLs.
    "review",
]

MIDDLEWARE = [
    "sts.envelope.RequestIdMiddleware",
    # Outside every other middleware: what they refuse under /api/ (a bad Host header) is enveloped too.
    "sts.envelope.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The application server serves the admin's static files itself (no separate web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The audit review pages' Content-Security-Policy and no-store, on their errors and redirects too.
    "review.headers.ReviewHeadersMiddleware",
]

ROOT_URLCONF = "atmospro.urls"
WSGI_APPLICATION = "atmospro.wsgi.application"

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

DATABASES = {"default": env.database_url("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", 60 if not DEBUG else 0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers share one SQLite file: wait for the write lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # the API takes small JSON bodies; larger ones are refused early

# The default cache must be shared by every worker process of one machine (JWKS, policy files,
# throttles): a file cache, not a per-process memory cache. Its keys carry the deployment's prefix,
# set below once the GitHub deployment is known.
CACHES = {"default": env.cache_url("CACHE_URL", f"filecache://{VAR_DIR / 'cache'}")}

CELERY_BROKER_URL = env.raw("CELERY_BROKER_URL")
if CELERY_BROKER_URL == "filesystem://":
    # kombu's broker in files under VAR_DIR: the demo's worker and server on one machine, without Redis.
    # Not for production (one machine only, polled); see README "Production".
    _broker = {"data_folder_in": VAR_DIR / "broker" / "queue", "control_folder": VAR_DIR / "broker" / "control"}
    for _folder in _broker.values():
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker["data_folder_in"]),
        "data_folder_out": str(_broker["data_folder_in"]),  # the same folder: producers and the worker share it
        "control_folder": str(_broker["control_folder"]),
    }
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.raw("CELERY_RESULT_BACKEND")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")  # beat's memory of its last runs
CELERY_BEAT_SCHEDULE = {
    "purge-expired-oidc-token-uses": {"task": "sts.tasks.expired_records_purge", "schedule": 600.0},
    "audit-retention": {"task": "workspaces.tasks.audit_retention_apply_all", "schedule": 24 * 3600.0},
    # Repairs what a lost webhook missed (GitHub never redelivers by itself).
    "installations-reconcile": {"task": "sts.webhooks.tasks.installations_reconcile", "schedule": 3600.0},
    "webhook-deliveries-purge": {"task": "sts.webhooks.tasks.webhook_deliveries_purge_old", "schedule": 24 * 3600.0},
}
# How long events that name no workspace (refusals before any workspace was known) are kept.
AUDIT_UNSCOPED_RETENTION_DAYS = env.integer("AUDIT_UNSCOPED_RETENTION_DAYS", 365, minimum=1, maximum=3650)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Compressed files with content-hashed names, made by `manage.py collectstatic` (run by `make run` and
# by a deployment) and served by WhiteNoise with far-future caching (see atmospro/static_files.py).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "atmospro.static_files.StaticStorage"},
}
# In development, files not collected yet are found in the apps on each request.
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start while it is missing

# --- HTTPS in production (manage.py check --deploy) ---
# Only behind a proxy that sets this header on every request (and drops a client's own): without one, a
# client could claim HTTPS over plain HTTP. https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = env.proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", not DEBUG)
if not DEBUG and env.raw("SECURE_SSL_REDIRECT") is not None and not SECURE_SSL_REDIRECT:
    # Said explicitly: the load balancer redirects plain HTTP itself (and must, for `check --deploy`'s sake).
    SILENCED_SYSTEM_CHECKS = ["security.W008"]
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0, maximum=63072000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "sts.envelope.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "oidc_exchange": env.string("STS_EXCHANGE_THROTTLE", "120/minute"),
        # Per workspace, and per calling repository within it: the mint and the revocation together.
        "sts_workspace": env.string("STS_WORKSPACE_THROTTLE", "600/minute"),
        "sts_caller": env.string("STS_CALLER_THROTTLE", "120/minute"),
    },
    "NUM_PROXIES": env.integer("NUM_PROXIES", 0, minimum=0, maximum=10),
}

# The API's description (sts/api/schema.py): only the /api/v1/ routes, Swagger UI's files from the sidecar
# package through our static files (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Atmos Pro STS",
    "DESCRIPTION": "Short-lived, read-only GitHub tokens for GitHub Actions jobs, by trust policy: the server side "
    "of the Atmos CLI's `atmos/pro` auth provider. Every answer, errors of every layer included, is one JSON "
    "envelope (`request`, `status`, `success`, `errorTag`, `errorMessage`, `traceId`, `context`, `data`).",
    "VERSION": "v1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,  # the reasons are their own description
    "PREPROCESSING_HOOKS": ["sts.api.schema.only_api_routes"],
    # Enums stay inline (no enum components): each envelope's `errorTag` lists its own tags.
    "POSTPROCESSING_HOOKS": ["sts.api.schema.describe_response_headers"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- GitHub ---
GITHUB_API_URL = env.url("GITHUB_API_URL", "https://api.github.com")
GITHUB_HOST = env.string("GITHUB_HOST", "github.com")
GITHUB_APP_ID = env.string("GITHUB_APP_ID", "")
GITHUB_APP_PRIVATE_KEY = _required_secret("GITHUB_APP_PRIVATE_KEY", None)
if GITHUB_APP_PRIVATE_KEY is not None:
    load_private_key("GITHUB_APP_PRIVATE_KEY", GITHUB_APP_PRIVATE_KEY, allowed=("RSA",))
if not DEBUG and not GITHUB_APP_ID:
    raise ConfigError("GITHUB_APP_ID is required when DEBUG is False.")
# The web host (https://github.com, or https://HOST on GHES): the App's installation page and the
# user-authorization flow live there, not on the API. The slug names the App's page; the OAuth client id
# and secret exchange the code GitHub gives during installation for a user token. Without the three, a
# workspace's admins see no "Install on GitHub" button.
GITHUB_WEB_URL = env.url("GITHUB_WEB_URL", "https://github.com")
GITHUB_APP_SLUG = env.string("GITHUB_APP_SLUG", "")
GITHUB_APP_CLIENT_ID = env.string("GITHUB_APP_CLIENT_ID", "")
GITHUB_APP_CLIENT_SECRET = env.secret("GITHUB_APP_CLIENT_SECRET") or ""
GITHUB_CA_BUNDLE = env.raw("GITHUB_CA_BUNDLE")  # extra CA file, e.g. the simulator's or a GHES's
GITHUB_HTTP_TIMEOUT = env.integer("GITHUB_HTTP_TIMEOUT", 10, minimum=1, maximum=60)
GITHUB_CONSISTENCY_SECONDS = env.integer("GITHUB_CONSISTENCY_SECONDS", 10, minimum=0, maximum=120)  # 401/403 window
# Secrets that sign webhook deliveries (X-Hub-Signature-256): the current one first, and during a rotation
# the one being retired, comma-separated; a delivery signed with any of them is accepted.
GITHUB_WEBHOOK_SECRETS = env.secrets("GITHUB_WEBHOOK_SECRETS")
if not DEBUG and not GITHUB_WEBHOOK_SECRETS:
    raise ConfigError("GITHUB_WEBHOOK_SECRETS (or GITHUB_WEBHOOK_SECRETS_FILE) is required when DEBUG is False.")

# Days a webhook delivery done (or ignored) is kept: longer than GitHub's 3 days of redelivery, so a
# redelivered GUID still finds its row and does nothing twice. Failed deliveries stay until handled.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.integer("WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=4, maximum=3650)

# --- STS ---
STS_OIDC_ISSUERS = env.urls("STS_OIDC_ISSUERS", ["https://token.actions.githubusercontent.com"])
STS_OIDC_AUDIENCES = env.strings("STS_OIDC_AUDIENCES", ["atmos-pro.com"])
STS_OIDC_LEEWAY_SECONDS = env.integer("STS_OIDC_LEEWAY_SECONDS", 60, minimum=0, maximum=300)
STS_SESSION_SIGNING_KEY = _required_secret("STS_SESSION_SIGNING_KEY", None) or dev_session_key(VAR_DIR)
load_private_key("STS_SESSION_SIGNING_KEY", STS_SESSION_SIGNING_KEY, allowed=("EC", "Ed25519", "RSA"))
# Keys that signed sessions before a rotation: still accepted for verification, never used to sign.
STS_SESSION_PREVIOUS_KEYS = env.secrets("STS_SESSION_PREVIOUS_KEYS")
for _pem in STS_SESSION_PREVIOUS_KEYS:
    load_public_key("STS_SESSION_PREVIOUS_KEYS", _pem)
STS_SESSION_TTL_SECONDS = env.integer("STS_SESSION_TTL_SECONDS", 3600, minimum=60, maximum=86400)
STS_SESSION_MAX_TTL_SECONDS = env.integer("STS_SESSION_MAX_TTL_SECONDS", 3600 * 6, minimum=60, maximum=86400)
if STS_SESSION_TTL_SECONDS > STS_SESSION_MAX_TTL_SECONDS:
    raise ConfigError("STS_SESSION_TTL_SECONDS must not exceed STS_SESSION_MAX_TTL_SECONDS.")
STS_MAX_SOURCES = env.integer("STS_MAX_SOURCES", 100, minimum=1, maximum=500)
STS_POLICY_CACHE_SECONDS = env.integer("STS_POLICY_CACHE_SECONDS", 60, minimum=0, maximum=3600)
# How many installation tokens a process creates at GitHub at once (a mint's tokens go side by side).
STS_TOKEN_CREATE_CONCURRENCY = env.integer("STS_TOKEN_CREATE_CONCURRENCY", 8, minimum=1, maximum=64)
# GitHub calls per hour a workspace, and one caller repository of it, may cause beyond minting its own tokens.
STS_GITHUB_BUDGET_PER_WORKSPACE = env.integer("STS_GITHUB_BUDGET_PER_WORKSPACE", 500, minimum=1, maximum=100000)
STS_GITHUB_BUDGET_PER_CALLER = env.integer("STS_GITHUB_BUDGET_PER_CALLER", 200, minimum=1, maximum=100000)

# --- Shared cache, one namespace per deployment ---
# Staging and production, or github.com and a GHES whose repository and installation ids overlap, may
# share one Redis: every key carries the deployment's identity (GitHub API and App), so none reads the
# other's policy files, key sets, throttle counts or budgets. A prefix of the cache URL's own is kept
# in front of it.
DEPLOYMENT_CACHE_PREFIX = deployment_cache_prefix(github_api_url=GITHUB_API_URL, github_app_id=GITHUB_APP_ID)
for _cache in CACHES.values():
    _cache["KEY_PREFIX"] = ":".join(filter(None, [str(_cache.get("KEY_PREFIX", "")), DEPLOYMENT_CACHE_PREFIX]))

# --- Logs and metrics ---
# One JSON object per line in production; a readable line in development (LOG_FORMAT=plain or json).
LOG_FORMAT = env.choice("LOG_FORMAT", "plain" if DEBUG else "json", choices=LOG_FORMATS)
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.string("LOG_LEVEL", "INFO"))
# The development server's request lines, without the one-use code of GitHub's redirect to the setup URL.
LOGGING["filters"]["setup_query"] = {"()": "workspaces.request_log.SetupQueryLogFilter"}
LOGGING["loggers"]["django.server"] = {"filters": ["setup_query"], "propagate": True}
# /metrics is closed unless one of these opens it: a bearer token, or the scraper's own networks.
METRICS_TOKEN = env.secret("METRICS_TOKEN")
if METRICS_TOKEN is not None and len(METRICS_TOKEN) < 16:
    raise ConfigError("METRICS_TOKEN must be at least 16 characters long.")
METRICS_ALLOWED_NETWORKS = env.networks("METRICS_ALLOWED_NETWORKS")
