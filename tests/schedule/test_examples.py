"""The examples in config/ pass both the JSON Schema and the loader, and use every feature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from liverecd.schedule.config import load_config
from liverecd.schedule.loader import load_schedules
from liverecd.schedule.model import CronWindow, Finalize, OneOffWindow
from liverecd.schedule.parse import load_schedule_file
from liverecd.schedule.yamlload import load_yaml, to_python

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = sorted((CONFIG_DIR / "schedules").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((CONFIG_DIR / "schedule.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _data(path: Path) -> Any:
    # Read as the loader reads (YAML 1.2), as editors with yaml-language-server do.
    return to_python(load_yaml(path, path.name).root)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_passes_the_schema(path: Path, validator: jsonschema.protocols.Validator) -> None:
    errors = [e.message for e in validator.iter_errors(_data(path))]
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_passes_the_loader_without_warnings(path: Path) -> None:
    loaded = load_schedule_file(path)
    assert loaded.streams
    assert loaded.warnings == ()


def test_main_config_loads_with_its_schedules() -> None:
    config = load_config(CONFIG_DIR / "liverecd.yaml")
    result = load_schedules(config)
    assert result.problems == ()
    assert len(result.schedule.files) == len(EXAMPLES)


def test_examples_use_every_feature() -> None:
    streams = [s for p in EXAMPLES for s in load_schedule_file(p).streams]
    windows = [w for s in streams for w in s.windows]
    zones = {s.timezone.key for s in streams}
    checks = {
        "a DST zone": "Europe/London" in zones,
        "Shanghai": "Asia/Shanghai" in zones,
        "one-off windows": any(isinstance(w, OneOffWindow) for w in windows),
        "cron windows": any(isinstance(w, CronWindow) for w in windows),
        "a macro": any(isinstance(w, CronWindow) and w.cron.expr.startswith("@") for w in windows),
        "window padding": any(w.pad_before is not None or w.pad_after is not None for w in windows),
        "stream padding": any(s.pad_before or s.pad_after for s in streams),
        "stream except": any(s.excepts for s in streams),
        "except ranges": any(r.first != r.last for s in streams for r in s.excepts),
        "window except": any(isinstance(w, CronWindow) and w.excepts for w in windows),
        "split": any(s.split for s in streams),
        "enabled false": any(not s.enabled for s in streams),
        "finalize delayed": any(s.finalize is Finalize.DELAYED for s in streams),
        "delay": any(s.delay.total_seconds() != 180 for s in streams),
        "ingest_domain": any(s.ingest_domain for s in streams),
        "per-stream domain override": len({s.key.domain for s in streams}) > 1,
    }
    assert [name for name, used in checks.items() if not used] == []


def test_schema_rejects_what_the_loader_rejects(validator: jsonschema.protocols.Validator) -> None:
    bad: list[dict[str, Any]] = [
        {"streams": [{"name": "a", "windows": [{"cron": "* * * *", "duration": "1h"}]}]},
        {"streams": [{"name": "a", "windows": [{"start": "2026-12-18", "end": "2026-12-19"}]}]},
        {"streams": [{"name": "a", "windows": [{"start": "2026-12-18T20:00", "cron": "@daily"}]}]},
        {"streams": [{"name": "a/b", "windows": []}]},
        {"streams": [{"name": "a", "windows": [], "enabled": "yes"}]},
        {"streams": [{"name": "a", "windows": []}], "timezon": "UTC"},
        {"streams": [{"name": "a", "windows": [{"cron": "@daily", "duration": "10:30"}]}]},
        {"finalize": "later", "streams": []},
        {"except": ["2026-12-25T10:00"], "streams": []},
        {"domain": "d"},
    ]
    for data in bad:
        assert list(validator.iter_errors(data)), data
