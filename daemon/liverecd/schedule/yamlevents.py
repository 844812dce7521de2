"""The common case of `yamlbuild`, straight from the parser's events: no composed nodes.

Composing builds a PyYAML node per value and calls back into Python three times for each
(resolve, descend, ascend); on a 6 MB timetable that is a third of the load. A schedule file
is nearly always plain: untagged scalars, mappings with unique plain keys, lists. For such a
document this walk builds the very Y-nodes `build_document` would (same marks, values and
order). Anything else (an anchor, alias, tag, merge key, duplicate or complex key, deep nesting,
several documents, an empty one, a syntax error) gives None, and the caller composes the text
the full way, which reports it exactly as before.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from liverecd.schedule.lines import unmask
from liverecd.schedule.yamlbuild import MAX_DEPTH
from liverecd.schedule.ynodes import YMap, YNode, YScalar, YSeq, resolve_plain


class _Unusual(Exception):
    """The document needs the full build."""


def build_plain(loader: Any, *, masked: bool) -> YNode | None:
    """The document of `loader` (a CParser) as Y-nodes, or None when it is not plain."""
    try:
        events = iter(loader.get_event, None)
        next(events), next(events)  # stream start, document start
        root = _walk(events, masked)
        if not isinstance(next(events), yaml.DocumentEndEvent):
            return None
        if not isinstance(next(events), yaml.StreamEndEvent):
            return None
    except (yaml.YAMLError, _Unusual, StopIteration):
        return None
    if isinstance(root, YScalar):
        return None  # an empty document or a lone scalar: rare, and the full path words it
    return root


def _walk(events: Any, masked: bool) -> YNode:
    # One frame per open collection: [entries or items, marks or None, start mark, pending key].
    stack: list[list[Any]] = []
    while True:
        ev = next(events)
        kind = type(ev)
        if kind is ScalarEvent:
            if ev.tag is not None or ev.anchor is not None:
                raise _Unusual
            text = unmask(ev.value) if masked else ev.value
            if stack and stack[-1][1] is not None and stack[-1][3] is None:
                _key(stack[-1], text, ev)
                continue
            plain = ev.implicit[0]
            value: YNode = YScalar(
                ev.start_mark, resolve_plain(text) if plain else text, text, plain
            )
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if ev.tag is not None or ev.anchor is not None or len(stack) > MAX_DEPTH:
                raise _Unusual
            mapping = kind is MappingStartEvent
            stack.append([{} if mapping else [], {} if mapping else None, ev.start_mark, None])
            continue
        elif kind is MappingEndEvent:
            entries, marks, mark, _ = stack.pop()
            value = YMap(mark, entries, marks)
        elif kind is SequenceEndEvent:
            items, _, mark, _ = stack.pop()
            value = YSeq(mark, tuple(items))
        else:
            raise _Unusual  # an alias
        if not stack:
            return value
        _add(stack[-1], value)


def _key(frame: list[Any], name: str, ev: Any) -> None:
    if name in frame[1] or (name == "<<" and ev.implicit[0]):
        raise _Unusual  # a duplicate (reported by the full build) or a merge key
    frame[3] = name
    frame[1][name] = ev.start_mark


def _add(frame: list[Any], value: YNode) -> None:
    if frame[1] is None:
        frame[0].append(value)
        return
    if frame[3] is None:
        raise _Unusual  # a mapping or list used as a key
    frame[0][frame[3]] = value
    frame[3] = None
