"""The event walk (yamlevents) builds exactly what the full build does, or declines."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from liverecd.schedule.lines import mask_breaks
from liverecd.schedule.yamlbuild import build_document
from liverecd.schedule.yamlevents import build_plain
from liverecd.schedule.yamlload import _Loader
from liverecd.schedule.ynodes import YMap, YNode, YScalar, YSeq


def shape(node: YNode) -> Any:
    """Everything a Y-node says, marks as (line, column, index)."""
    if isinstance(node, YScalar):
        return ("scalar", node.line, node.col, node.mark.index, node.value, node.text, node.plain)
    if isinstance(node, YSeq):
        return ("seq", node.line, node.col, [shape(item) for item in node.items])
    assert isinstance(node, YMap)
    keys = [(k, m.line, m.column, m.index) for k, m in node.key_marks.items()]
    return ("map", node.line, node.col, keys, {k: shape(v) for k, v in node.entries.items()})


def walk(text: str) -> YNode | None:
    masked_text, masked = mask_breaks(text)
    loader = _Loader(masked_text)
    try:
        return build_plain(loader, masked=masked)
    finally:
        loader.dispose()


def both(text: str) -> tuple[YNode | None, YNode]:
    fast = walk(text)
    masked_text, masked = mask_breaks(text)
    loader = _Loader(masked_text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    full, problems = build_document(node, "f.yaml", has_anchors=True, masked=masked)
    assert fast is None or not problems
    return fast, full


scalars = st.one_of(
    st.sampled_from(["1", "-2.5", "0x1f", "true", "False", "null", "~", "", "10:30", "1h30m"]),
    st.text(alphabet="ab c:#\u2028'\"*-", max_size=8).map(lambda t: yaml.safe_dump(t).strip()),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["a", "b", "cron", "x y", "'q'"]), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(["streams", "timezone", "app", "n"]), values, min_size=1))
def test_the_event_walk_builds_what_the_full_build_builds(doc: dict[str, Any]) -> None:
    for style in (False, True, None):
        text = yaml.safe_dump(doc, default_flow_style=style, allow_unicode=True)
        fast, full = both(text)
        assert fast is not None
        assert shape(fast) == shape(full)


def test_a_plain_schedule_takes_the_event_walk() -> None:
    text = 'timezone: UTC\nstreams:\n  - name: a\n    windows:\n      - cron: "0 * * * *"\n'
    fast, full = both(text)
    assert fast is not None and shape(fast) == shape(full)


def test_anything_unusual_is_left_to_the_full_build() -> None:
    for text in (
        "a: &x 1\nb: *x\n",  # anchor and alias
        "a: !!str 1\n",  # tag
        "a: 1\na: 2\n",  # duplicate key
        "base: {x: 1}\nm:\n  <<: {y: 2}\n",  # merge key
        "? [a]\n: 1\n",  # complex key
        "a: 1\n---\nb: 2\n",  # two documents
        "",  # empty
        "just a scalar\n",
        "a: [1, 2\n",  # syntax error
        "a:" + " [" * 70 + " ]" * 70 + "\n",  # deep nesting
    ):
        assert walk(text) is None, text
