"""Parsing the standard crontab dialect (Vixie cron, `man 5 crontab`) into a `CronSpec`.

Five fields: minute hour day-of-month month day-of-week. Each is a comma-separated list of
`*`, `N`, `A-B`, each optionally followed by `/STEP`; `N/STEP` means `N-MAX/STEP`. Months and
weekdays may be written by their three-letter English names, in any case. Day-of-week 0 and 7
are both Sunday (so `fri-sun` is a range). A day field counts as restricted unless it starts
with `*` (Vixie's rule), and when both day fields are restricted a day matches if either does.
Macros: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`.

Occurrences are computed elsewhere (the timeline); this module only reads the text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from liverecd.schedule.model import CronSpec

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: leap years exist

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]

    def value(self, token: str, whole: str) -> int:
        if token.isdigit():
            number = int(token)
            if not self.low <= number <= self.high:
                raise ValueError(
                    f"{self.name} field {whole!r}: {number} is out of range {self.low}-{self.high}"
                )
            return number
        lowered = token.lower()
        if lowered in self.names:
            return self.names[lowered]
        raise ValueError(f"{self.name} field {whole!r}: {self._unknown(token)}")

    def _unknown(self, token: str) -> str:
        if not self.names:
            return f"{token!r} is not a number in {self.low}-{self.high}"
        short = token[:3].lower()
        if short in self.names:
            return f"unknown name {token!r}; use three-letter names such as {short!r}"
        close = difflib.get_close_matches(token.lower(), list(self.names), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        examples = ", ".join(list(self.names)[:3])
        return f"unknown name {token!r} (expected a number or a name such as {examples}){hint}"


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    _Field("day-of-week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),
)
_ITEM = re.compile(r"(?P<range>\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/(?P<step>[^/]*))?")


def parse_cron(expr: str) -> CronSpec:
    """Parse a 5-field crontab expression or a macro; raise ValueError naming field and value."""
    return _parse(expr.strip())


@lru_cache(maxsize=4096)  # schedules repeat a few rules over many windows
def _parse(text: str) -> CronSpec:
    fields = _fields_of(text)
    values = [_parse_field(spec, raw) for spec, raw in zip(_FIELDS, fields, strict=True)]
    minutes, hours, doms, months, dows = values
    dows = frozenset(d % 7 for d in dows)  # 7 is Sunday too
    spec = CronSpec(
        expr=text,
        minutes=minutes,
        hours=hours,
        days_of_month=doms,
        months=months,
        days_of_week=dows,
        dom_restricted=not fields[2].startswith("*"),
        dow_restricted=not fields[4].startswith("*"),
    )
    _check_reachable(spec)
    return spec


def _fields_of(text: str) -> list[str]:
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            raise ValueError("@reboot is not a time of day; liverecd needs a time rule")
        if macro not in MACROS:
            known = ", ".join(MACROS)
            raise ValueError(f"unknown macro {text!r}; known macros: {known}")
        return MACROS[macro].split()
    fields = text.split()
    if len(fields) != 5:
        hint = " (liverecd has no seconds field)" if len(fields) == 6 else ""
        raise ValueError(
            "expected 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}{hint}"
        )
    return fields


def _parse_field(spec: _Field, raw: str) -> frozenset[int]:
    result: set[int] = set()
    for item in raw.split(","):
        result.update(_parse_item(spec, item, raw))
    return frozenset(result)


def _parse_item(spec: _Field, item: str, whole: str) -> range:
    if "?" in item or item.upper() in {"L", "W"} or "#" in item:
        raise ValueError(
            f"{spec.name} field {whole!r}: {item!r} is Quartz syntax, not standard crontab"
        )
    match = _ITEM.fullmatch(item)
    if match is None:
        raise ValueError(f"{spec.name} field {whole!r}: cannot read {item!r}")
    first, last = spec.low, spec.high
    part = match["range"]
    if part != "*":
        low_text, _, high_text = part.partition("-")
        first = spec.value(low_text, whole)
        if high_text:
            last = spec.value(high_text, whole)
            if last == 0 and first > 0 and spec.name == "day-of-week":
                last = 7  # `fri-sun`: Sunday closes a weekday range
            if last < first:
                raise ValueError(
                    f"{spec.name} field {whole!r}: range {part!r} runs backwards "
                    "(write it as two ranges, e.g. 22-23,0-2)"
                )
        elif match["step"] is None:
            last = first  # a single value; `N/STEP` keeps last = high (Vixie)
    return range(first, last + 1, _step(spec, match["step"], whole))


def _step(spec: _Field, text: str | None, whole: str) -> int:
    if text is None:
        return 1
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"{spec.name} field {whole!r}: step {text!r} must be a whole number >= 1")
    return int(text)


def _check_reachable(spec: CronSpec) -> None:
    """Refuse rules that can never fire, such as `0 0 31 2 *` (February has no 31st)."""
    if not spec.dom_restricted or spec.dow_restricted:
        return  # with day-of-week in play (or every day) some day always matches
    if any(day <= _MONTH_DAYS[month - 1] for month in spec.months for day in spec.days_of_month):
        return
    months = ",".join(_MONTHS[m - 1] for m in sorted(spec.months))
    days = ",".join(str(d) for d in sorted(spec.days_of_month))
    raise ValueError(f"never fires: day {days} does not occur in {months}")
