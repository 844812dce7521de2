#!/bin/sh
# The whole test suite: lint (ruff), types (mypy --strict on liverecd), tests (pytest).
# Creates ./.venv on first use, so a clean clone needs nothing but Python >= 3.11.
set -eu
cd "$(dirname "$0")/.."
VENV=${LIVERECD_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
"$VENV/bin/ruff" check daemon tests bench
"$VENV/bin/mypy"
"$VENV/bin/pytest" "$@"
