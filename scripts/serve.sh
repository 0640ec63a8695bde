#!/usr/bin/env bash
# Set up and run the app for a developer: .venv, migrations, a demo study and a staff user, then
# Daphne (HTTP + websockets) on http://127.0.0.1:8000 with config.settings.local (SQLite,
# in-memory channel layer, eager Celery unless DATABASE_URL / REDIS_URL are set).
#   MGE_HOST / MGE_PORT change the address (default 127.0.0.1:8000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HOST="${MGE_HOST:-127.0.0.1}"
PORT="${MGE_PORT:-8000}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
export PATH="$ROOT/.venv/bin:$PATH"

MGE_WITH_ML="${MGE_WITH_ML:-1}" "$ROOT/scripts/bootstrap.sh"
python manage.py migrate --noinput
python manage.py seed_demo --base-url "http://$HOST:$PORT"

cat <<MSG

  Participant landing page:  http://$HOST:$PORT/s/demo/
  Dashboard (staff user above): http://$HOST:$PORT/dashboard/
  Admin (staff user above):  http://$HOST:$PORT/admin/
  Settings: $DJANGO_SETTINGS_MODULE    Stop with Ctrl-C.

MSG
MGE_WARM_ENCODER="${MGE_WARM_ENCODER:-true}" exec daphne -b "$HOST" -p "$PORT" config.asgi:application
