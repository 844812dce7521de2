#!/bin/sh
# The whole test suite: lint (ruff), types (mypy --strict on liverecd), tests (pytest, spread
# over worker processes by pytest-xdist). Creates ./.venv on first use, so a clean clone needs
# nothing but Python >= 3.11; later runs reinstall only when pyproject.toml changed.
set -eu
cd "$(dirname "$0")/.."
VENV=${LIVERECD_VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.liverecd-installed"
want=$(cat pyproject.toml | cksum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$want" > "$stamp"
fi
"$VENV/bin/ruff" check daemon tests bench
"$VENV/bin/mypy"
# Most tests wait on loopback I/O and short real-time windows rather than the CPU, so more
# workers than the 2 cores pays (six, stealing work from each other); LIVERECD_WORKERS overrides
# it. Daemon tests run on a FakeClock
# they step; `-m "not realtime"` leaves out those that need the real one (subprocesses, signals).
"$VENV/bin/pytest" -n "${LIVERECD_WORKERS:-6}" --dist worksteal "$@"
