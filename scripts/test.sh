#!/usr/bin/env bash
# Set up and run every check, each stage in its own process; print a summary and exit non-zero if
# any stage failed. A pytest stage that runs no test (exit 5, or everything skipped) fails.
#   scripts/test.sh          lint, unit+integration on SQLite, integration on PostgreSQL+Redis,
#                            browser tests, migrations, production deploy checks, and the
#                            production topology (nginx, two web processes, worker) with faults
#   scripts/test.sh --fast   only unit+integration on SQLite
# MGE_TEST_DATABASE_URL / MGE_TEST_REDIS_URL override the production-services URLs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

FAST=0
for arg in "$@"; do
  case "$arg" in
    --fast) FAST=1 ;;
    -h | --help) sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

PG_URL="${MGE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mge_test}"
REDIS_TEST_URL="${MGE_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
ARTIFACTS="$ROOT/test-artifacts"
PYTHON="$ROOT/.venv/bin/python"

# The settings read these; clear them so the caller's shell cannot leak into a stage. Each stage
# sets what it needs on its own command line.
for name in DJANGO_SETTINGS_MODULE SECRET_KEY SECRET_KEY_FALLBACKS DEBUG ALLOWED_HOSTS \
  CSRF_TRUSTED_ORIGINS DATABASE_URL DB_CONN_MAX_AGE REDIS_URL OPENAI_API_KEY \
  SECURE_SSL_REDIRECT SECURE_HSTS_SECONDS MGE_MESSAGE_MAX_CHARS MGE_FRAME_MAX_BYTES \
  MGE_CHAT_RATE_PER_MINUTE MGE_LLM_FAILURES_BEFORE_FALLBACK MGE_VOTES_PER_DRAW MGE_DB_THREADS MGE_WARM_ENCODER \
  $(compgen -e | grep -E '^(LLM_|MGE_)' | grep -vE '^MGE_(WITH_ML|TEST_)' || true); do
  unset "$name" "${name}_FILE"
done

STAGES=()
RESULTS=()
DETAILS=()
TOTAL_PASSED=0
TOTAL_FAILED=0

banner() { printf '\n===== %s =====\n' "$1"; }
record() { STAGES+=("$1"); RESULTS+=("$2"); DETAILS+=("$3"); }

run_step() {  # run_step NAME COMMAND...: a stage that is not pytest
  local name="$1"
  shift
  banner "$name"
  if "$@"; then
    record "$name" PASS ""
  else
    record "$name" FAIL "exit $?"
  fi
}

junit_counts() {  # junit_counts FILE -> "passed failed errors skipped"
  "$PYTHON" - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 0 0 0")
    raise SystemExit
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
tests = failures = errors = skipped = 0
for suite in suites:
    tests += int(suite.get("tests", 0))
    failures += int(suite.get("failures", 0))
    errors += int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
print(tests - failures - errors - skipped, failures, errors, skipped)
PY
}

run_pytest() {  # run_pytest NAME SLUG [VAR=value ...] -- PYTEST_ARGS...
  local name="$1" slug="$2"
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do
    envs+=("$1")
    shift
  done
  shift
  banner "$name"
  local xml="$ARTIFACTS/junit-$slug.xml" rc=0 passed failed errors skipped status detail
  rm -f "$xml"
  env "${envs[@]}" "$PYTHON" -m pytest "$@" --junitxml="$xml" || rc=$?
  read -r passed failed errors skipped < <(junit_counts "$xml")
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed + errors))
  detail="$passed passed, $failed failed, $errors errors, $skipped skipped"
  status=PASS
  if [ "$rc" -eq 5 ]; then
    status=FAIL detail="no tests ran (pytest exit 5)"
  elif [ "$rc" -ne 0 ]; then
    status=FAIL detail="$detail (pytest exit $rc)"
  elif [ "$passed" -eq 0 ]; then
    status=FAIL detail="$detail (no test passed)"
  fi
  record "$name" "$status" "$detail"
}

deploy_check() {
  local key
  key="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')"
  local envs=(DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY="$key"
    ALLOWED_HOSTS=example.org DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL")
  env "${envs[@]}" "$PYTHON" manage.py check --deploy --fail-level WARNING &&
    env "${envs[@]}" "$PYTHON" manage.py collectstatic --noinput --clear --verbosity 0 &&
    echo "collectstatic with the production (manifest) storage: ok"
}

flush_test_redis() {  # stage b starts from an empty Redis database
  "$PYTHON" -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).flushdb()' "$REDIS_TEST_URL"
}

print_summary() {
  local i failed_stages=()
  banner "summary"
  for i in "${!STAGES[@]}"; do
    printf '%-4s  %-46s %s\n' "${RESULTS[$i]}" "${STAGES[$i]}" "${DETAILS[$i]}"
    [ "${RESULTS[$i]}" = PASS ] || failed_stages+=("${STAGES[$i]}")
  done
  if [ "${#failed_stages[@]}" -eq 0 ]; then
    echo "RESULT: all ${#STAGES[@]} stages passed"
  else
    echo "RESULT: ${#failed_stages[@]} of ${#STAGES[@]} stages failed"
    printf '  failed: %s\n' "${failed_stages[@]}"
  fi
  echo "TOTAL: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
  [ "${#failed_stages[@]}" -eq 0 ]
}

banner "bootstrap"
MGE_WITH_ML="${MGE_WITH_ML:-1}" "$ROOT/scripts/bootstrap.sh"
mkdir -p "$ARTIFACTS"

SERVICES_OK=1
if [ "$FAST" -eq 0 ]; then
  run_step "services (PostgreSQL, Redis, Chromium)" "$ROOT/scripts/services.sh"
  [ "${RESULTS[-1]}" = PASS ] || SERVICES_OK=0
  run_step "lint (ruff check)" "$ROOT/.venv/bin/ruff" check .
fi

# a. The embedded default: SQLite, in-memory channel layer, eager Celery.
run_pytest "a. unit + integration (SQLite, in-memory)" sqlite -- \
  tests/unit tests/integration tests/security -m "not e2e"

if [ "$FAST" -eq 0 ]; then
  # b. The production services; pytest-django creates (and drops) the test_ database.
  if [ "$SERVICES_OK" -eq 1 ] && flush_test_redis; then
    run_pytest "b. integration (PostgreSQL + Redis)" postgres \
      DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL" -- tests/integration tests/security -m "not e2e"
  else
    record "b. integration (PostgreSQL + Redis)" FAIL "not run: services unavailable"
  fi

  # c. Browser tests: sync Playwright needs its own process (its loop clashes with asyncio tests).
  run_pytest "c. browser (Playwright + Chromium)" e2e \
    DJANGO_ALLOW_ASYNC_UNSAFE=true MGE_CHROMIUM_PATH=/usr/bin/chromium \
    MGE_TEST_ARTIFACTS="$ARTIFACTS" -- tests/e2e -m e2e

  run_step "migrations match the models" \
    "$PYTHON" manage.py makemigrations --check --dry-run --settings=config.settings.test

  # d. Production settings pass Django's deployment checks and build their static manifest.
  run_step "d. production check --deploy + collectstatic" deploy_check

  # e. nginx (deploy/nginx/) before two web processes, a worker, and a PostgreSQL and a Redis of
  #    the stage's own (ports MGE_TOPOLOGY_PORT_BASE..+9), then faults: tests/topology/.
  if [ "$SERVICES_OK" -eq 1 ]; then
    run_pytest "e. production topology + faults" topology -- tests/topology -m topology \
      -p no:cacheprovider
  else
    record "e. production topology + faults" FAIL "not run: services unavailable"
  fi
fi

print_summary
