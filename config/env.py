"""Typed readers for settings from the environment.

Each reader takes the variable name and a default; `required=True` makes a missing value a loud
ImproperlyConfigured at boot (production). `NAME_FILE` pointing at a file is read in place of
`NAME`, for secrets mounted as files.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}.")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from exc


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_prices(
    name: str, default: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """A price table "MODEL=IN/OUT;MODEL=IN/OUT" (USD per million tokens) over `default`."""
    table = dict(default)
    for entry in (env_str(name) or "").split(";"):
        if not entry.strip():
            continue
        model, _, prices = entry.partition("=")
        try:
            price_in, price_out = (float(part) for part in prices.split("/"))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} entries look like 'gpt-4o=2.5/10'; got {entry.strip()!r}."
            ) from None
        table[model.strip()] = (price_in, price_out)
    return table
