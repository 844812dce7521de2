#!/bin/sh
# The whole test suite: lint (ruff), types (mypy --strict on liverecd), tests (pytest, spread
# over worker processes by pytest-xdist). Creates ./.venv on first use, so a clean clone needs
# nothing but Python >= 3.11; later runs reinstall only when pyproject.toml changed.
set -eu
cd "$(dirname "$0")/.."
VENV=${LIVERECD_VENV:-.venv}
# Bytecode is what makes the suite's many interpreters cheap: without it every xdist worker
# rewrites and compiles every test module (about 6 s of CPU each) and every daemon subprocess
# compiles liverecd again. The pyc files land in __pycache__ folders, which git ignores.
unset PYTHONDONTWRITEBYTECODE
stamp="$VENV/.liverecd-installed"
want=$(cksum < pyproject.toml)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # No pip in the venv (ensurepip alone takes 5 s): uv installs in seconds what pip needs
    # about a minute for. It comes from PATH, or pip puts it beside the venv's packages; pip
    # stays the fallback (say, a host that reaches its package index only through pip's own
    # configuration).
    [ -x "$VENV/bin/python" ] || python3 -m venv --without-pip "$VENV"
    uv=$(command -v uv || echo "$VENV/uv/bin/uv")
    [ -x "$uv" ] || python3 -m pip install -q --disable-pip-version-check --target "$VENV/uv" uv \
        > /dev/null 2>&1 || true
    if ! UV_LINK_MODE=${UV_LINK_MODE:-copy} "$uv" pip install -q --python "$VENV/bin/python" \
        -e '.[test]'; then
        echo "tests/run.sh: uv failed, installing with pip" >&2
        "$VENV/bin/python" -m ensurepip -q > /dev/null 2>&1 || true
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
    fi
    echo "$want" > "$stamp"
fi
"$VENV/bin/ruff" check daemon tests bench
# mypy (one core) runs beside the tests, its report kept for the end: it needs no result of
# theirs, and the tests spend much of their time waiting on loopback I/O and subprocesses. First
# one pytest process collects the suite: that writes the test modules' rewritten bytecode and
# hypothesis' caches once (tests/conftest.py), so the workers below only read them.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$VENV/bin/mypy" > "$report" 2>&1 & mypy=$!
"$VENV/bin/pytest" --collect-only -q -p no:cacheprovider "$@" > /dev/null 2>&1 || true
# Most tests wait on loopback I/O, subprocesses and short real-time windows rather than the CPU
# (tests/engine, watch and api: 95 s of wall time for 15 s of CPU), so more workers than the 2
# cores pays: eight, each handed the next test as soon as it has fewer than two queued, long
# tests first (tests/conftest.py); LIVERECD_WORKERS overrides it. Daemon tests run on a
# FakeClock they step; `-m "not realtime"` leaves out those that need the real one.
status=0
"$VENV/bin/pytest" -n "${LIVERECD_WORKERS:-8}" --dist load "$@" || status=$?
wait "$mypy" || status=$((status ? status : 1))
cat "$report"
exit "$status"
