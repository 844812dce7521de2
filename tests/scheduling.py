"""The order the suite runs in and how pytest-xdist hands it to its workers (tests/run.sh runs
`-n 8 --dist load`), and the caches the workers would otherwise each fill on a fresh checkout.

Most tests wait on loopback I/O, subprocesses and short real-time windows, so tests/run.sh runs
more workers than cores; what decides the wall time is then that no worker is left with a long
test at the end while the others idle. So: long tests first, each worker handed the next unit
as soon as it has fewer than two tests queued (greedy list scheduling, longest first).
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st


def _tier(item: pytest.Item) -> int:
    """0 for tests of several seconds, 1 for those on the real clock, 2 for the rest."""
    if item.get_closest_marker("slow"):
        return 0
    return 1 if item.get_closest_marker("realtime") else 2


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long tests first, and within a tier the modules that run as one unit (`_unit`; the demo's
    is the longest): handed out in this order one unit at a time (see
    `pytest_xdist_make_scheduler`), the suite ends with short tests on every worker rather
    than with one worker busy for half a minute while the others idle. Otherwise stable."""
    items.sort(key=lambda item: (_tier(item), _unit(item.nodeid) == item.nodeid))


def pytest_collection_finish(session: pytest.Session) -> None:
    """In the collecting pass of tests/run.sh (`--collect-only`, before the workers start), fill
    hypothesis' on-disk caches that each worker would otherwise compute on a fresh checkout:
    the table of characters `st.text()` draws from (about 2.5 s of CPU per worker) and the
    constants found in our modules (about 1 s; a private function: best effort)."""
    if session.config.option.collectonly and not hasattr(session.config, "workerinput"):
        st.text().validate()
        with contextlib.suppress(Exception):
            from hypothesis.internal.conjecture import providers

            providers._get_local_constants()


@functools.cache
def _shares_module_fixture(module: str) -> bool:
    text = (Path(__file__).parents[1] / module).read_text()
    return re.search(r"scope=\"(module|package)\"", text) is not None


def _unit(nodeid: str) -> str:
    """A test, or the whole module when its tests share a module fixture (one demo run, one
    daemon): such a module runs on one worker, so the fixture is made once."""
    module = nodeid.split("::")[0]
    return module if _shares_module_fixture(module) else nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under `--dist load` (tests/run.sh): each worker gets the next unit in collection order
    as soon as it has fewer than two tests queued (a worker runs a test once it knows the
    next). xdist's own schedulers hand out runs of tests, and a long test near the end of a
    run leaves the other workers idle; this is greedy list scheduling, longest first."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

        def _reschedule(self, node: Any) -> None:
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
            elif self._pending_of(self.assigned_work[node]) < 2:
                self._assign_work_unit(node)

    config.option.loadscopereorder = False  # keep the collection's order: long tests first
    return Units(config, log)
