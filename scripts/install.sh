#!/usr/bin/env bash
# Install what the project needs on a fresh Debian machine: system packages, then a virtualenv in .venv with
# the pinned Python packages. Safe to run again: it only installs what is missing.
#   --postgresql   also what `curation server start --database postgresql` needs (Debian's postgresql, asyncpg,
#                  psycopg2); `make test` passes it, since the stack-backed tiers run on both databases
set -euo pipefail
cd "$(dirname "$0")/.."

POSTGRESQL=0
[ "${1:-}" = "--postgresql" ] && POSTGRESQL=1

APT_PACKAGES=(redis-server chromium apertium-eng-spa)  # apertium-eng-spa: the learned filter's fluency and adequacy signals
[ "$POSTGRESQL" -eq 1 ] && APT_PACKAGES+=(postgresql)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "Error: Python 3.11 is needed (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
[ "$POSTGRESQL" -eq 0 ] || .venv/bin/python -m pip install -q -r requirements-postgresql.lock
echo "installed: $(.venv/bin/curation --version)"
