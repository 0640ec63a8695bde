"""Settings come from the environment: typed readers, `NAME_FILE` secrets, loud production boot.

The settings-module tests run Python in a subprocess, because settings are read once per process.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

REPO_ROOT = Path(__file__).resolve().parents[2]

# Everything the settings read; the subprocesses start without them, whatever the test run uses.
SETTINGS_VARS = {
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DB_CONN_MAX_AGE",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "OPENAI_API_KEY",
}


def clean_env(**overrides: str) -> dict[str, str]:
    def is_setting(name: str) -> bool:
        base = name.removesuffix("_FILE")
        return base in SETTINGS_VARS or base.startswith("LLM_")

    env = {name: value for name, value in os.environ.items() if not is_setting(name)}
    env.update(overrides)
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return clean_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}",
        **overrides,
    )


SETTINGS_AS_JSON = """
import json
import re
from django.conf import settings
print(json.dumps({
    "channel_backend": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "celery_eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "celery_broker": settings.CELERY_BROKER_URL,
    "celery_acks_late": settings.CELERY_TASK_ACKS_LATE,
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "secret_key_fallbacks": getattr(settings, "SECRET_KEY_FALLBACKS", []),
}))
"""


def settings_as_json(env: dict[str, str]) -> dict:
    result = run_python(["-c", SETTINGS_AS_JSON], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- config.env readers ---


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " True "])
def test_env_bool_reads_true_spellings(monkeypatch, raw):
    monkeypatch.setenv("MGE_TEST_FLAG", raw)
    assert env_bool("MGE_TEST_FLAG") is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off"])
def test_env_bool_reads_false_spellings(monkeypatch, raw):
    monkeypatch.setenv("MGE_TEST_FLAG", raw)
    assert env_bool("MGE_TEST_FLAG", default=True) is False


def test_env_bool_rejects_a_value_that_is_not_a_boolean(monkeypatch):
    monkeypatch.setenv("MGE_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="MGE_TEST_FLAG must be a boolean.*'maybe'"):
        env_bool("MGE_TEST_FLAG")


def test_env_bool_falls_back_to_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("MGE_TEST_FLAG", raising=False)
    assert env_bool("MGE_TEST_FLAG", default=True) is True


def test_a_required_variable_that_is_missing_fails_with_its_name(monkeypatch):
    monkeypatch.delenv("MGE_TEST_SECRET", raising=False)
    monkeypatch.delenv("MGE_TEST_SECRET_FILE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set the MGE_TEST_SECRET environment variable"):
        env_str("MGE_TEST_SECRET", required=True)


def test_an_empty_required_variable_counts_as_missing(monkeypatch):
    monkeypatch.setenv("MGE_TEST_SECRET", "")
    with pytest.raises(ImproperlyConfigured, match="MGE_TEST_SECRET"):
        env_str("MGE_TEST_SECRET", required=True)


def test_a_name_file_secret_is_read_from_the_file_and_stripped(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-the-file\n")
    monkeypatch.setenv("MGE_TEST_SECRET", "from-the-variable")
    monkeypatch.setenv("MGE_TEST_SECRET_FILE", str(secret_file))
    assert env_str("MGE_TEST_SECRET", required=True) == "from-the-file"


def test_env_int_rejects_a_value_that_is_not_an_integer(monkeypatch):
    monkeypatch.setenv("MGE_TEST_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="MGE_TEST_NUMBER must be an integer"):
        env_int("MGE_TEST_NUMBER", 3)


def test_env_float_reads_a_number(monkeypatch):
    monkeypatch.setenv("MGE_TEST_NUMBER", "2.5")
    assert env_float("MGE_TEST_NUMBER", 1.0) == 2.5


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("MGE_TEST_HOSTS", " example.org, www.example.org ,, ")
    assert env_list("MGE_TEST_HOSTS", []) == ["example.org", "www.example.org"]


# --- settings modules, each in a fresh process ---


def test_production_settings_refuse_to_boot_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run_python(["-c", "import config.settings.production"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set the SECRET_KEY environment variable." in result.stderr


def test_production_settings_refuse_to_boot_without_allowed_hosts(tmp_path):
    env = production_env(tmp_path)
    del env["ALLOWED_HOSTS"]
    result = run_python(["-c", "import config.settings.production"], env)
    assert result.returncode != 0
    assert "Set ALLOWED_HOSTS" in result.stderr


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_reads_the_secret_key_and_its_fallbacks_from_files(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    fallbacks_file = tmp_path / "fallbacks"
    fallbacks_file.write_text("old-key-one,old-key-two\n")
    env = production_env(
        tmp_path, SECRET_KEY_FILE=str(key_file), SECRET_KEY_FALLBACKS_FILE=str(fallbacks_file)
    )
    del env["SECRET_KEY"]
    assert settings_as_json(env)["secret_key_fallbacks"] == ["old-key-one", "old-key-two"]


def test_without_redis_the_settings_use_in_memory_channels_and_eager_celery():
    chosen = settings_as_json(clean_env(DJANGO_SETTINGS_MODULE="config.settings.local"))
    assert chosen["channel_backend"] == "channels.layers.InMemoryChannelLayer"
    assert chosen["celery_eager"] is True
    assert chosen["db_engine"] == "django.db.backends.sqlite3"


def test_with_redis_the_settings_use_the_redis_channel_layer_and_a_real_celery_broker():
    redis_url = "redis://127.0.0.1:6379/15"
    chosen = settings_as_json(
        clean_env(DJANGO_SETTINGS_MODULE="config.settings.local", REDIS_URL=redis_url)
    )
    assert chosen["channel_backend"] == "channels_redis.core.RedisChannelLayer"
    assert chosen["celery_eager"] is False
    assert chosen["celery_broker"] == redis_url
    assert chosen["celery_acks_late"] is True


def test_a_postgres_database_url_selects_postgresql():
    chosen = settings_as_json(
        clean_env(
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DATABASE_URL="postgres://mge@db.internal:5432/mge",
        )
    )
    assert chosen["db_engine"] == "django.db.backends.postgresql"


def test_every_variable_the_settings_read_is_documented_in_env_example():
    read = set()
    for module in (REPO_ROOT / "config" / "settings").glob("*.py"):
        read |= set(
            re.findall(r'env_(?:str|int|float|bool|list)\(\s*"([A-Z0-9_]+)"', module.read_text())
        )
    documented = set(
        re.findall(r"^#? ?([A-Z0-9_]+)=", (REPO_ROOT / "deploy" / "env.example").read_text(), re.M)
    )
    documented |= {name.removesuffix("_FILE") for name in documented}

    assert read, "no env_* reads found: the pattern is stale"
    assert sorted(read - documented) == []


def test_a_price_table_from_the_environment_adds_to_the_built_in_one(monkeypatch):
    from config.env import env_prices

    monkeypatch.setenv("MGE_TEST_PRICES", "local=0/0; gpt-4o=3/12")

    table = env_prices("MGE_TEST_PRICES", {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)})

    assert table == {"gpt-4o": (3.0, 12.0), "gpt-4o-mini": (0.15, 0.6), "local": (0.0, 0.0)}
    monkeypatch.setenv("MGE_TEST_PRICES", "local=free")
    with pytest.raises(ImproperlyConfigured, match="'gpt-4o=2.5/10'"):
        env_prices("MGE_TEST_PRICES", {})
