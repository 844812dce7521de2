"""Every schedule file the config's globs match, loaded and checked across files.

A file that fails keeps its last good version when the caller passes one (`previous`), so a bad
edit never takes recordings away; its problems are reported all the same. A file whose bytes
are those of its `previous` version is not parsed again. The same stream
(DOMAIN/APP/STREAM) may appear in several files, but its per-stream settings must agree: when
they do not, the file that conflicts with those already accepted is treated as failed (files
unchanged since `previous` are accepted first, so the blame falls on the edit).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from liverecd.config import Config, Source
from liverecd.durations import format_duration
from liverecd.errors import ConfigError, Problem, Severity
from liverecd.schedule.fields import display_path
from liverecd.schedule.model import Schedule, ScheduleFile, Stream, StreamKey
from liverecd.schedule.parse import load_schedule_file
from liverecd.schedule.yamlload import file_digest, gc_paused

__all__ = ["LoadResult", "display_path", "load_schedules", "match_schedule_files"]

# Per-stream settings that must agree wherever the stream is listed (they shape its recording,
# not one file's windows; padding and except dates stay per entry).
AGREEING_SETTINGS = ("finalize", "delay", "ingest_domain", "split", "enabled", "account")


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The schedule in force and everything found while loading it.

    `files` maps each file's absolute path to the version in force (new, or previous for a
    file that failed); `failed` lists the absolute paths of files whose new content was refused.
    """

    schedule: Schedule
    problems: tuple[Problem, ...] = ()
    files: Mapping[str, ScheduleFile] = field(default_factory=dict)
    failed: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that are errors (not warnings)."""
        return tuple(p for p in self.problems if p.severity == "error")


def load_schedules(
    config: Config,
    *,
    previous: Mapping[str, ScheduleFile] | None = None,
    display_base: Path | None = None,
) -> LoadResult:
    """Load every file matched by `config.schedules` (sorted, each once) and check across files.

    Never raises for a bad file: its problems are returned, and `previous[path]` stays in force.
    """
    with gc_paused():
        return _load(config, previous, display_base)


def _load(
    config: Config, previous: Mapping[str, ScheduleFile] | None, display_base: Path | None
) -> LoadResult:
    problems: list[Problem] = []
    failed: list[str] = []
    paths = match_schedule_files(config, problems, loaded=previous or {})
    candidates: list[_Candidate] = []
    for path in paths:
        key = str(path)
        before = previous.get(key) if previous else None
        display = display_path(path, display_base)
        try:
            loaded = _unchanged(path, display, before) or load_schedule_file(path, display=display)
            _check_accounts(loaded, config)
        except ConfigError as exc:
            problems.extend(exc.problems)
            failed.append(key)
            if before is not None:  # the last good version stays in force
                candidates.append(_Candidate(key, before, None, unchanged=True))
            continue
        problems.extend(loaded.warnings)
        candidates.append(_Candidate(key, loaded, before, unchanged=loaded == before))
    # Files unchanged since the last load go first, so a conflict is blamed on the edited one.
    candidates.sort(key=lambda c: (not c.unchanged, c.key))
    files = _accept_agreeing(candidates, problems, failed)
    ordered = {key: files[key] for key in sorted(files)}
    return LoadResult(
        schedule=Schedule(files=tuple(ordered.values())),
        problems=tuple(problems),
        files=ordered,
        failed=tuple(sorted(set(failed))),
    )


def _check_accounts(file: ScheduleFile, config: Config) -> None:
    """ConfigError at each `account:` that names no account of the main config."""
    known = config.account_names
    problems = [
        Problem(
            where.file,
            where.line,
            where.col,
            f"account: unknown account {s.account!r}; the main config has {', '.join(known)}",
        )
        for s in file.streams
        if s.account not in known and (where := s.account_source or s.source)
    ]
    if problems:
        raise ConfigError(problems)


def _unchanged(path: Path, display: str, before: ScheduleFile | None) -> ScheduleFile | None:
    """`before` when the file still holds the same bytes (a reload need not parse it again)."""
    if before is None or not before.digest or before.path != display:
        return None
    return before if file_digest(path) == before.digest else None


def match_schedule_files(
    config: Config, problems: list[Problem], *, loaded: Collection[str] = ()
) -> list[Path]:
    """The files the config's globs match, sorted and deduplicated; a glob matching nothing (or
    only dotfiles, which are skipped as editor temporaries) is a problem at its config line.

    Whatever else a glob matches is a file that fails to load, so that it keeps its `loaded`
    version (a FIFO, a symlink that loops or dangles, a directory where a loaded file was):
    only a path that no longer exists is a file gone. Other directories are skipped."""
    base = config.path.parent
    found: dict[str, Path] = {}
    config_file = config.source.file if config.source else str(config.path)
    for i, pattern in enumerate(config.schedules):
        where = config.schedule_sources[i] if i < len(config.schedule_sources) else None
        try:
            matches = [
                p for p in _glob(base, pattern)
                if not p.name.startswith(".") and (str(p.absolute()) in loaded or not p.is_dir())
            ]  # fmt: skip
        except (ValueError, OSError) as exc:
            problems.append(
                _config_problem(config_file, where, i, f"invalid glob {pattern!r}: {exc}")
            )
            continue
        if config.path.absolute() in (p.absolute() for p in matches):
            # The main config is not a schedule: read as one, it gives "unknown key" errors.
            matches = [p for p in matches if p.absolute() != config.path.absolute()]
            problems.append(
                _config_problem(
                    config_file, where, i,
                    f"{pattern!r} matches the main config file; it is skipped (keep schedules "
                    "in a folder of their own, e.g. schedules/*.yaml)",
                    "warning",
                )
            )  # fmt: skip
        if not matches:
            problems.append(_config_problem(config_file, where, i, f"{pattern!r} matches no file"))
        for path in matches:
            found.setdefault(str(path.absolute()), path.absolute())
    return [found[key] for key in sorted(found)]


def _glob(base: Path, pattern: str) -> list[Path]:
    as_path = Path(pattern).expanduser()
    if as_path.is_absolute():
        root = Path(as_path.anchor)
        return list(root.glob(str(as_path.relative_to(root))))
    return list(base.glob(pattern))


def _config_problem(
    file: str, where: Source | None, index: int, message: str, severity: Severity = "error"
) -> Problem:
    line, col = (where.line, where.col) if where else (None, None)
    return Problem(file, line, col, f"schedules[{index}]: {message}", severity)


class _Candidate(NamedTuple):
    key: str
    current: ScheduleFile
    fallback: ScheduleFile | None  # the previous version, if the current one conflicts
    unchanged: bool


def _accept_agreeing(
    candidates: list[_Candidate],
    problems: list[Problem],
    failed: list[str],
) -> dict[str, ScheduleFile]:
    accepted: dict[str, ScheduleFile] = {}
    registry: dict[StreamKey, Stream] = {}
    for key, current, fallback, _ in candidates:
        chosen: ScheduleFile | None = current
        conflicts = _conflicts(current, registry)
        if conflicts:
            problems.extend(conflicts)
            failed.append(key)
            usable = fallback is not None and not _conflicts(fallback, registry)
            chosen = fallback if usable else None
        if chosen is None:
            continue
        for stream in chosen.streams:
            registry.setdefault(stream.key, stream)
        accepted[key] = chosen
    return accepted


def _conflicts(file: ScheduleFile, registry: Mapping[StreamKey, Stream]) -> list[Problem]:
    found = []
    for stream in file.streams:
        other = registry.get(stream.key)
        if other is None:
            continue
        for name in AGREEING_SETTINGS:
            here, there = getattr(stream, name), getattr(other, name)
            if here != there:
                found.append(
                    Problem(
                        stream.source.file,
                        stream.source.line,
                        stream.source.col,
                        f"stream {stream.key}: {name} is {_show(here)} here but {_show(there)} "
                        f"at {other.source.file}:{other.source.line}; a stream listed in several "
                        "files must have the same settings there",
                    )
                )
    return found


def _show(value: object) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)
