"""Django settings of the conformance test server (django-oauth-toolkit over SQLite on 127.0.0.1).

`TOKENSIM_DOT_SETTINGS` holds the OAUTH2_PROVIDER options as JSON (the server's own names, e.g.
`{"ROTATE_REFRESH_TOKEN": true, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 5}`); `TOKENSIM_DOT_DB` the SQLite
file. Passwords use the fast MD5 hasher: this is a test server, and logins must take milliseconds.
"""

import json
import os

SECRET_KEY = "tokensim-conformance-test-server-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.servers.dot_project.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TOKENSIM_DOT_DB", "dot.sqlite3"),
        # Requests are served one at a time by a threaded server: wait for the lock instead of failing.
        "OPTIONS": {"timeout": 20},
    }
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
OAUTH2_PROVIDER = json.loads(os.environ.get("TOKENSIM_DOT_SETTINGS", "{}"))
