"""Developer default: SQLite, in-memory channel layer, eager Celery unless REDIS_URL is set."""

from config.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", True)
