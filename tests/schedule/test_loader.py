"""Config globs to a Schedule (liverecd.schedule.loader.load_schedules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liverecd.config import Config
from liverecd.schedule.config import load_config
from liverecd.schedule.loader import LoadResult, load_schedules

GOOD_A = (
    "domain: d\napp: a\nstreams:\n  - name: news\n    windows:\n"
    "      - {cron: '0 19 * * *', duration: 1h}\n"
)
GOOD_B = "domain: d\napp: a\nstreams:\n  - name: sport\n    windows: []\n"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schedules").mkdir()
    (tmp_path / "liverecd.yaml").write_text("schedules:\n  - schedules/*.yaml\n")
    return tmp_path


def _load(root: Path, previous: LoadResult | None = None) -> LoadResult:
    config = load_config(root / "liverecd.yaml")
    return load_schedules(config, previous=previous.files if previous else None)


def _write(root: Path, name: str, text: str) -> Path:
    path = root / "schedules" / name
    path.write_text(text)
    return path


def test_every_matching_file_is_loaded_in_sorted_order(root: Path) -> None:
    _write(root, "b.yaml", GOOD_B)
    _write(root, "a.yaml", GOOD_A)
    result = _load(root)
    assert [f.path for f in result.schedule.files] == ["schedules/a.yaml", "schedules/b.yaml"]
    assert list(result.files) == [str(root / "schedules/a.yaml"), str(root / "schedules/b.yaml")]
    assert result.failed == ()
    assert [s.key.stream for s in result.schedule.streams()] == ["news", "sport"]


def test_overlapping_globs_load_a_file_once(root: Path) -> None:
    (root / "liverecd.yaml").write_text("schedules: [schedules/*.yaml, schedules/a.yaml]\n")
    _write(root, "a.yaml", GOOD_A)
    assert len(_load(root).schedule.files) == 1


def test_absolute_globs_work(root: Path) -> None:
    (root / "liverecd.yaml").write_text(f"schedules: ['{root}/schedules/*.yaml']\n")
    _write(root, "a.yaml", GOOD_A)
    assert len(_load(root).schedule.files) == 1


def test_dotfiles_are_skipped_as_editor_temporaries(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, ".#a.yaml", "garbage: [")
    result = _load(root)
    assert result.problems == ()
    assert len(result.schedule.files) == 1


def test_a_glob_that_matches_nothing_names_the_config_line(root: Path) -> None:
    (root / "liverecd.yaml").write_text("schedules:\n  - schedules/*.yaml\n  - extra/*.yml\n")
    _write(root, "a.yaml", GOOD_A)
    assert [str(p) for p in _load(root).problems] == [
        "liverecd.yaml:3:5: schedules[1]: 'extra/*.yml' matches no file"
    ]


def test_a_bad_file_is_reported_and_the_others_load(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", "streams: [\n")
    result = _load(root)
    assert [f.path for f in result.schedule.files] == ["schedules/a.yaml"]
    assert result.failed == (str(root / "schedules/b.yaml"),)
    assert result.errors[0].file == "schedules/b.yaml"


def test_a_bad_edit_keeps_the_last_good_version(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    first = _load(root)
    _write(root, "a.yaml", GOOD_A.replace("1h", "-1h"))
    second = _load(root, previous=first)
    assert second.failed == (str(root / "schedules/a.yaml"),)
    assert second.errors
    assert second.schedule == first.schedule


def test_an_unchanged_file_is_not_parsed_again(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", GOOD_B)
    first = _load(root)
    _write(root, "b.yaml", GOOD_B.replace("sport", "sports"))
    second = _load(root, previous=first)
    a_key = str(root / "schedules/a.yaml")
    assert second.files[a_key] is first.files[a_key]
    assert second.schedule.streams()[1].key.stream == "sports"


def test_a_deleted_file_leaves_the_schedule(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    path = _write(root, "b.yaml", GOOD_B)
    first = _load(root)
    path.unlink()
    assert len(_load(root, previous=first).schedule.files) == 1


def test_warnings_are_reported_and_do_not_fail_the_file(root: Path) -> None:
    _write(root, "b.yaml", GOOD_B)
    result = _load(root)
    assert [p.severity for p in result.problems] == ["warning"]
    assert result.errors == ()
    assert result.failed == ()


def test_a_stream_in_two_files_merges_when_its_settings_agree(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", GOOD_A.replace("'0 19 * * *'", "'0 7 * * *'"))
    result = _load(root)
    assert result.problems == ()
    assert [s.key.stream for s in result.schedule.streams()] == ["news", "news"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("finalize: delayed", "finalize is delayed here but immediate at schedules/a.yaml:4"),
        ("delay: 60s", "delay is 1m here but 3m at schedules/a.yaml:4"),
        ("ingest_domain: push.d", "ingest_domain is push.d here but not set at"),
        ("split: true", "split is true here but false at"),
        ("enabled: false", "enabled is false here but true at"),
    ],
)
def test_a_stream_in_two_files_must_agree_and_both_places_are_named(
    root: Path, setting: str, message: str
) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", GOOD_A.replace("app: a\n", f"app: a\n{setting}\n"))
    result = _load(root)
    (problem,) = result.errors
    assert str(problem).startswith("schedules/b.yaml:5:5: stream d/a/news: ")
    assert message in str(problem)
    assert result.failed == (str(root / "schedules/b.yaml"),)
    assert [f.path for f in result.schedule.files] == ["schedules/a.yaml"]


def test_a_conflict_is_blamed_on_the_edited_file(root: Path) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", GOOD_A.replace("'0 19 * * *'", "'0 7 * * *'"))
    first = _load(root)
    # Edit a.yaml (sorted first) so that it conflicts with the unchanged b.yaml.
    _write(root, "a.yaml", GOOD_A.replace("app: a\n", "app: a\nsplit: true\n"))
    second = _load(root, previous=first)
    assert second.failed == (str(root / "schedules/a.yaml"),)
    assert "schedules/a.yaml" in str(second.errors[0]).split(":")[0]
    assert second.schedule == first.schedule  # a.yaml's last good version stays


def test_config_built_in_code_needs_no_sources(tmp_path: Path) -> None:
    config = Config(path=tmp_path / "liverecd.yaml", schedules=("none/*.yaml",))
    result = load_schedules(config, display_base=tmp_path)
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'liverecd.yaml'}: schedules[0]: 'none/*.yaml' matches no file"
    ]


def test_a_broken_file_keeps_its_place_and_a_conflicting_edit_elsewhere_is_refused(
    root: Path,
) -> None:
    _write(root, "a.yaml", GOOD_A)
    _write(root, "b.yaml", GOOD_A.replace("'0 19 * * *'", "'0 7 * * *'"))
    first = _load(root)
    _write(root, "a.yaml", "streams: [\n")  # broken: its last good version stays in force
    _write(root, "b.yaml", GOOD_A.replace("app: a\n", "app: a\nsplit: true\n"))
    second = _load(root, previous=first)
    assert set(second.failed) == {str(root / "schedules/a.yaml"), str(root / "schedules/b.yaml")}
    assert second.schedule == first.schedule
    assert any("split is true here" in str(p) for p in second.errors)
