"""Composed PyYAML nodes into Y-nodes: marks kept, duplicate keys and foreign tags reported,
aliases bounded.

Aliases share composed nodes, so an alias bomb is small to compose but huge to walk. When a
document has anchors at all, a first pass measures its size with aliases expanded (memoized,
so it costs one visit per distinct node) and refuses recursion or more than `ALIAS_BUDGET`
values beyond the file's own; the build then shares each aliased subtree instead of copying it.
"""

from __future__ import annotations

from yaml import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from liverecd.errors import ConfigError, Problem
from liverecd.schedule.lines import unmask
from liverecd.schedule.ynodes import Value, YMap, YNode, YScalar, YSeq, resolve_plain

# Values that aliases may add on top of the file's own nodes: generous for anchors used as
# templates, far below what an alias bomb (billion laughs) expands to.
ALIAS_BUDGET = 1_000_000
MAX_DEPTH = 64

PLAIN_TAG = "!liverecd/plain"  # what our resolver gives an untagged, unquoted scalar
CORE = "tag:yaml.org,2002:"
STR_TAG = CORE + "str"
_ALLOWED_TAGS = {
    PLAIN_TAG,
    *(CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq")),
}


def build_document(
    root: Node, display: str, *, has_anchors: bool, masked: bool = False
) -> tuple[YNode, list[Problem]]:
    """Y-nodes of the document at `root` and the problems found; ConfigError if it cannot be
    built at all (alias bomb, recursive alias, nesting too deep). `masked`: the text had line
    breaks masked (see `lines`), which the values get back."""
    builder = _Builder(display, shared=has_anchors, masked=masked)
    if has_anchors:
        _ExpansionCheck(builder).size(root, 0)
    return builder.node(root, 0), builder.problems


def _where(display: str, node: Node, message: str) -> Problem:
    mark = node.start_mark
    return Problem(display, mark.line + 1, mark.column + 1, message)


class _ExpansionCheck:
    """Counts values with aliases expanded, one visit per distinct node."""

    def __init__(self, builder: _Builder) -> None:
        self.display = builder.display
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()

    def fail(self, node: Node, message: str) -> ConfigError:
        return ConfigError([_where(self.display, node, message)])

    def size(self, node: Node, depth: int) -> int:
        key = id(node)
        known = self.sizes.get(key)
        if known is not None:
            return known
        if key in self.active:
            raise self.fail(node, "recursive alias: an anchor refers to itself")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        total = 1
        if not isinstance(node, ScalarNode):
            self.active.add(key)
            children = node.value if isinstance(node, SequenceNode) else _flatten(node)
            for child in children:
                total += self.size(child, depth + 1)
                if total > ALIAS_BUDGET + len(self.sizes):
                    raise self.fail(
                        node, "aliases expand to more than 1,000,000 values (an alias bomb?)"
                    )
            self.active.discard(key)
        self.sizes[key] = total
        return total


def _flatten(node: Node) -> list[Node]:
    return [part for pair in node.value for part in pair]


class _Builder:
    def __init__(self, display: str, *, shared: bool, masked: bool) -> None:
        self.display = display
        self.masked = masked
        self.problems: list[Problem] = []
        self.memo: dict[int, YNode] | None = {} if shared else None

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(_where(self.display, node, message))

    def node(self, node: Node, depth: int) -> YNode:
        memo = self.memo
        if memo is not None:
            done = memo.get(id(node))
            if done is not None:
                return done
        if isinstance(node, ScalarNode):
            value: YNode = self.scalar(node)
        elif depth > MAX_DEPTH:
            raise ConfigError(
                [_where(self.display, node, f"nesting deeper than {MAX_DEPTH} levels")]
            )
        elif isinstance(node, MappingNode):
            value = self.mapping(node, depth)
        else:
            assert isinstance(node, SequenceNode)
            value = self.sequence(node, depth)
        if memo is not None:
            memo[id(node)] = value
        return value

    def scalar(self, node: ScalarNode) -> YScalar:
        text: str = unmask(node.value) if self.masked else node.value
        tag: str = node.tag
        if tag == PLAIN_TAG:
            return YScalar(node.start_mark, resolve_plain(text), text, True)
        value = text if tag == STR_TAG else self.tagged(node, tag, text)
        return YScalar(node.start_mark, value, text, False)

    def tagged(self, node: Node, tag: str, text: str) -> Value:
        """An explicitly tagged scalar: a core tag must fit its value; other tags are refused."""
        kind = tag.removeprefix(CORE)
        if tag not in _ALLOWED_TAGS or kind in ("map", "seq"):
            self.problem(node, f"tag {_short_tag(tag)} is not allowed here (safe YAML only)")
            return text
        value = resolve_plain(text)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        fits = {
            "int": number and isinstance(value, int),
            "float": number,
            "bool": isinstance(value, bool),
            "null": value is None,
        }
        if fits[kind]:
            return float(value) if kind == "float" and isinstance(value, int) else value
        self.problem(node, f"{text!r} is not a valid !!{kind}")
        return text

    def mapping(self, node: MappingNode, depth: int) -> YMap:
        entries: dict[str, YNode] = {}
        marks: dict[str, Mark] = {}
        merged: set[str] = set()  # keys that came in through `<<`: explicit keys override them
        self.check_tag(node)
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "a key must be a plain name, not a list or mapping")
                continue
            name: str = unmask(key_node.value) if self.masked else key_node.value
            if name in marks and name not in merged:
                first = marks[name].line + 1
                self.problem(key_node, f"duplicate key {name!r} (first at line {first})")
                continue
            if name == "<<" and key_node.tag == PLAIN_TAG:
                self.merge(value_node, entries, marks, merged, depth)
                continue
            merged.discard(name)
            entries[name] = self.node(value_node, depth + 1)
            marks[name] = key_node.start_mark
        return YMap(node.start_mark, entries, marks)

    def merge(
        self,
        node: Node,
        entries: dict[str, YNode],
        marks: dict[str, Mark],
        merged: set[str],
        depth: int,
    ) -> None:
        """YAML's merge key (`<<: *defaults`): fills keys not written in this mapping itself."""
        for source in node.value if isinstance(node, SequenceNode) else [node]:
            value = self.node(source, depth + 1)
            if not isinstance(value, YMap):
                self.problem(source, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            for name, item in value.entries.items():
                if name not in marks:
                    entries[name] = item
                    marks[name] = value.key_marks[name]
                    merged.add(name)

    def sequence(self, node: SequenceNode, depth: int) -> YSeq:
        self.check_tag(node)
        return YSeq(node.start_mark, tuple([self.node(child, depth + 1) for child in node.value]))

    def check_tag(self, node: Node) -> None:
        if node.tag not in _ALLOWED_TAGS:
            self.problem(node, f"tag {_short_tag(node.tag)} is not allowed (safe YAML only)")


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(CORE) if tag.startswith(CORE) else tag
