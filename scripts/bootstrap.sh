#!/usr/bin/env bash
# Create .venv and install the project with its test extra. Idempotent: the install is skipped
# while pyproject.toml (and the chosen extras) are unchanged since the last successful install.
#   MGE_WITH_ML=1  also install the optional `ml` extra (torch, sentence-transformers); the
#                  test and serve scripts set it unless it is 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.mge-bootstrap-stamp"
cd "$ROOT"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

python_is_recent() {
  "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

find_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && python_is_recent "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if ! { [ -x "$VENV/bin/python" ] && python_is_recent "$VENV/bin/python"; }; then
  PYTHON="$(find_python)" || { log "Python >= 3.11 not found (tried python3.11, python3)."; exit 1; }
  log "creating .venv with $PYTHON"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

extras="test"
if [ "${MGE_WITH_ML:-0}" = "1" ]; then
  extras="test,ml"
fi
wanted="$( { sha256sum pyproject.toml | cut -d' ' -f1; echo "extras=$extras"; } | sha256sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  exit 0
fi

log "installing .[$extras] into .venv (quiet)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
echo "$wanted" > "$STAMP"
log "done"
