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
    # One frame per open collection: [entries or items, key marks (None in a list), start
    # mark, the key whose value comes next]. Frames are inlined lists: this loop runs once per
    # value of the file.
    stack: list[list[Any]] = []
    frame: list[Any] | None = None
    for ev in events:
        kind = type(ev)
        if kind is ScalarEvent:
            if ev.tag is not None or ev.anchor is not None:
                raise _Unusual
            text = unmask(ev.value) if masked else ev.value
            if frame is not None and frame[1] is not None and frame[3] is None:
                if text in frame[1] or (text == "<<" and ev.implicit[0]):
                    raise _Unusual  # a duplicate (the full build reports it) or a merge key
                frame[3] = text
                frame[1][text] = ev.start_mark
                continue
            plain = ev.implicit[0]
            value: YNode = YScalar(
                ev.start_mark, resolve_plain(text) if plain else text, text, plain
            )
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if ev.tag is not None or ev.anchor is not None or len(stack) > MAX_DEPTH:
                raise _Unusual
            mapping = kind is MappingStartEvent
            frame = [{} if mapping else [], {} if mapping else None, ev.start_mark, None]
            stack.append(frame)
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            entries, marks, mark, _ = stack.pop()
            value = YSeq(mark, tuple(entries)) if marks is None else YMap(mark, entries, marks)
            frame = stack[-1] if stack else None
        else:
            raise _Unusual  # an alias
        if frame is None:
            return value
        if frame[1] is None:
            frame[0].append(value)
        elif frame[3] is None:
            raise _Unusual  # a mapping or list used as a key
        else:
            frame[0][frame[3]] = value
            frame[3] = None
    raise _Unusual  # the events ended inside the document
