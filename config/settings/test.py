"""Test settings: fast hashing, a fixed key, the environment still chooses the database."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-0123456789abcdefghij"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LLM_RETRY_BASE_SECONDS = 0.01
LLM_TIMEOUT_SECONDS = 5.0
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tasks run inline in tests, whichever broker the environment names; the real-worker path is
# tested on its own (tests/integration/test_celery_worker.py) against Redis.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# Dashboard jobs run inside the request that starts them, so a test sees them finished.
MGE_JOBS_INLINE = True

# New values and stories are shown unchecked, so tests of other features see them at once; the
# moderation tests (tests/security/test_moderation.py) turn it back on.
MGE_MODERATION = "off"
