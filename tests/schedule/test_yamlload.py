"""Safe YAML with marks, read the YAML 1.2 way (liverecd.schedule.yamlload)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liverecd.errors import ConfigError
from liverecd.schedule.lines import position
from liverecd.schedule.yamlload import (
    MAX_BYTES,
    YMap,
    YScalar,
    YSeq,
    file_digest,
    load_yaml,
    resolve_plain,
    to_python,
)


def _load(tmp_path: Path, text: str | bytes) -> YMap:
    path = tmp_path / "f.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    doc = load_yaml(path, "f.yaml")
    assert not doc.problems, doc.problems
    assert isinstance(doc.root, YMap)
    return doc.root


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    return [str(p) for p in load_yaml(path, "f.yaml").problems]


def _fatal(tmp_path: Path, data: str | bytes) -> str:
    path = tmp_path / "f.yaml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data)
    with pytest.raises(ConfigError) as info:
        load_yaml(path, "f.yaml")
    assert len(info.value.problems) == 1
    return str(info.value.problems[0])


def _scalar(root: YMap, key: str) -> YScalar:
    node = root.entries[key]
    assert isinstance(node, YScalar)
    return node


# --- YAML 1.1 surprises, resolved the YAML 1.2 way -------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"])
def test_yaml11_booleans_stay_strings(tmp_path: Path, word: str) -> None:
    assert _scalar(_load(tmp_path, f"a: {word}\n"), "a").value == word


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("TRUE", True)])
def test_only_true_and_false_are_booleans(tmp_path: Path, text: str, value: bool) -> None:
    assert _scalar(_load(tmp_path, f"a: {text}\n"), "a").value is value


def test_sexagesimal_stays_a_string(tmp_path: Path) -> None:
    # YAML 1.1 reads 10:30 as 630.
    node = _scalar(_load(tmp_path, "a: 10:30\n"), "a")
    assert node.value == "10:30"
    assert node.plain


def test_dates_and_timestamps_stay_strings(tmp_path: Path) -> None:
    root = _load(tmp_path, "d: 2026-12-25\nt: 2026-12-25T20:00:00+08:00\n")
    assert _scalar(root, "d").value == "2026-12-25"
    assert _scalar(root, "t").value == "2026-12-25T20:00:00+08:00"


def test_quoted_numbers_are_strings_and_plain_ones_numbers(tmp_path: Path) -> None:
    root = _load(tmp_path, "a: '50'\nb: 50\nc: 1.5\nd: 0x1f\ne: 0o17\nf: 017\n")
    assert _scalar(root, "a").value == "50"
    assert not _scalar(root, "a").plain
    assert _scalar(root, "b").value == 50
    assert _scalar(root, "c").value == 1.5
    assert _scalar(root, "d").value == 31
    assert _scalar(root, "e").value == 15
    assert _scalar(root, "f").value == 17  # YAML 1.2: decimal, not octal


@pytest.mark.parametrize("text", ["~", "null", "Null", "NULL", ""])
def test_null_spellings(text: str) -> None:
    assert resolve_plain(text) is None


@pytest.mark.parametrize("text", ["1h30m", "2026-12-25", "10:30", "-", ".", "1_000", "0b1", "nil"])
def test_things_that_look_numeric_but_are_not_stay_strings(text: str) -> None:
    assert resolve_plain(text) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_plain_integers_round_trip(number: int) -> None:
    assert resolve_plain(str(number)) == number


# --- marks -------------------------------------------------------------------------------------


def test_marks_are_one_based_and_point_at_values_and_keys(tmp_path: Path) -> None:
    root = _load(tmp_path, "top:\n  list:\n    - first\n    - {k: v}\n")
    top = root.entries["top"]
    assert isinstance(top, YMap)
    assert (root.key("top").line, root.key("top").col) == (1, 1)
    assert (top.line, top.col) == (2, 3)
    items = top.entries["list"]
    assert isinstance(items, YSeq)
    first, second = items.items
    assert (first.line, first.col) == (3, 7)
    assert isinstance(second, YMap)
    assert (second.entries["k"].line, second.entries["k"].col) == (4, 11)


UNUSUAL = ["\u2028", "\u2029", "\x85"]  # PyYAML breaks lines there; editors do not


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("odd", UNUSUAL)
def test_lines_are_counted_as_editors_count_them(tmp_path: Path, eol: str, odd: str) -> None:
    text = eol.join(["a: 1  # pasted" + odd + "from a web page", "b:", "  - x" + odd + "y", "c: 3"])
    root = _load(tmp_path, (text + eol).encode())
    assert [(root.key(k).line, root.key(k).col) for k in "abc"] == [(1, 1), (2, 1), (4, 1)]
    items = root.entries["b"]
    assert isinstance(items, YSeq) and (items.items[0].line, items.items[0].col) == (3, 5)


@given(
    comments=st.lists(st.text(alphabet=["x", " ", *UNUSUAL], max_size=6), min_size=1, max_size=8),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_every_key_is_reported_on_its_editor_line(comments: list[str], eol: str) -> None:
    text = eol.join(f"k{i}: {i}  #{c}" for i, c in enumerate(comments)) + eol
    path = Path(tempfile.mkdtemp()) / "f.yaml"
    path.write_bytes(text.encode())
    root = load_yaml(path, "f.yaml").root
    assert isinstance(root, YMap)
    assert [root.key(f"k{i}").line for i in range(len(comments))] == [
        i + 1 for i in range(len(comments))
    ]


def test_problems_after_an_unusual_break_name_the_editor_line(tmp_path: Path) -> None:
    dup = "a: 1  # \u2028\u2028\nb: 2\na: 3\n"
    assert _problems(tmp_path, dup) == ["f.yaml:3:1: duplicate key 'a' (first at line 1)"]
    syntax = _fatal(tmp_path, "# \u2028\na: [1, 2\nb: 3\n")
    assert syntax.startswith("f.yaml:3:2: YAML syntax error")
    assert _fatal(tmp_path, "# \u2028\r\na: b\x07c\n").startswith("f.yaml:2:5: unacceptable")
    # libyaml counts bytes: the 40 two-byte characters before it must not shift the column
    assert _fatal(tmp_path, "# " + "é" * 40 + "\u2028\na: b\x07c\n").startswith("f.yaml:2:5: ")


def test_a_value_keeps_its_unusual_break_and_a_noncharacter_is_refused(tmp_path: Path) -> None:
    assert _scalar(_load(tmp_path, 'a: "x\u2028y"\n'), "a").value == "x\u2028y"
    assert _fatal(tmp_path, "a: 1\nb: x\ufdd0\n") == (
        "f.yaml:2:5: U+FDD0 is a Unicode noncharacter, not text"
    )


# --- problems inside a readable document --------------------------------------------------------


def test_duplicate_key_names_the_first_line(tmp_path: Path) -> None:
    assert _problems(tmp_path, "a: 1\nb: 2\na: 3\n") == [
        "f.yaml:3:1: duplicate key 'a' (first at line 1)"
    ]


def test_duplicate_keys_in_a_nested_mapping_are_all_reported(tmp_path: Path) -> None:
    problems = _problems(tmp_path, "m:\n  x: 1\n  x: 2\nn:\n  y: 1\n  y: 2\n")
    assert len(problems) == 2


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!binary aGVsbG8=\n",
        "a: !custom x\n",
        "a: !!set {x: null}\n",
        "a: !!timestamp 2026-12-25\n",
    ],
)
def test_non_core_tags_are_refused(tmp_path: Path, text: str) -> None:
    problems = _problems(tmp_path, text)
    assert len(problems) == 1
    assert "is not allowed" in problems[0]
    assert problems[0].startswith("f.yaml:1:4:")


def test_core_tags_convert_and_must_fit(tmp_path: Path) -> None:
    root = _load(tmp_path, "a: !!str 12\nb: !!int '7'\nc: !!float 2\n")
    assert _scalar(root, "a").value == "12"
    assert _scalar(root, "b").value == 7
    assert _scalar(root, "c").value == 2.0
    assert _problems(tmp_path, "a: !!int yes\n") == ["f.yaml:1:4: 'yes' is not a valid !!int"]


def test_merge_keys_fill_missing_keys_and_explicit_keys_win(tmp_path: Path) -> None:
    root = _load(tmp_path, "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n")
    assert to_python(root.entries["use"]) == {"x": 1, "y": 3}


def test_anchors_share_their_value(tmp_path: Path) -> None:
    root = _load(tmp_path, "a: &w [1, 2]\nb: *w\n")
    assert root.entries["a"] is root.entries["b"]


def test_a_key_that_is_a_mapping_is_a_problem(tmp_path: Path) -> None:
    assert "a key must be a plain name" in _problems(tmp_path, "? {a: 1}\n: x\n")[0]


# --- whole-file failures -------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    assert _fatal(tmp_path, "") == "f.yaml: empty file (a truncated save?)"


def test_comments_only_is_empty(tmp_path: Path) -> None:
    assert _fatal(tmp_path, "# soon\n---\n") == "f.yaml: empty file (a truncated save?)"


def test_binary_names_the_offset(tmp_path: Path) -> None:
    assert (
        _fatal(tmp_path, b"ab\x00cd")
        == "f.yaml: binary file (NUL byte at byte offset 2), not YAML text"
    )


def test_non_utf8_names_line_and_offset(tmp_path: Path) -> None:
    message = _fatal(tmp_path, b"a: 1\nb: \xff\n")
    assert message == (
        "f.yaml: not UTF-8 text: invalid byte 0xff at line 2 (byte offset 8); "
        "save the file as UTF-8"
    )


def test_utf16_is_named(tmp_path: Path) -> None:
    assert "UTF-16" in _fatal(tmp_path, "a: 1\n".encode("utf-16"))


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    assert _scalar(_load(tmp_path, b"\xef\xbb\xbfa: 1\n"), "a").value == 1


def test_control_characters_are_refused(tmp_path: Path) -> None:
    assert "control characters" in _fatal(tmp_path, "a: b\x07c\n")


def test_file_over_ten_megabytes_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: [" + b"1," * (MAX_BYTES // 2) + b"1]\n")
    with pytest.raises(ConfigError, match=r"^f\.yaml: file is larger than 10 MB$"):
        load_yaml(path, "f.yaml")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml", "nope.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_yaml(tmp_path, "dir")


def test_syntax_error_points_at_line_and_column(tmp_path: Path) -> None:
    message = _fatal(tmp_path, "a: [1, 2\nb: 3\n")
    assert message.startswith("f.yaml:2:2: YAML syntax error: while parsing a flow sequence")


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("cron: */5 * * * *\n", "must be quoted"),
        ("cron: @daily\n", "starting with @ must be quoted"),
        ("a:\n\tb: 1\n", "not tabs"),
        ("a: b: c\n", 'quote a value that contains ": "'),
    ],
)
def test_common_syntax_errors_get_a_hint(tmp_path: Path, text: str, hint: str) -> None:
    assert hint in _fatal(tmp_path, text)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    message = _fatal(tmp_path, "\n".join(lines) + "\n")
    assert "alias bomb" in message
    assert message.startswith("f.yaml:")


def test_moderate_alias_use_is_fine(tmp_path: Path) -> None:
    lines = ["w: &w {cron: '0 19 * * *', duration: 1h}"]
    lines += [f"s{i}: [*w, *w, *w]" for i in range(1000)]
    root = _load(tmp_path, "\n".join(lines) + "\n")
    assert len(root.entries) == 1001


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "recursive alias" in _fatal(tmp_path, "a: &a [1, *a]\n")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    assert "nesting" in _fatal(tmp_path, "a: " + "[" * 200 + "]" * 200 + "\n")


def test_digest_follows_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("a: 1\n")
    first = load_yaml(path, "f.yaml").digest
    assert file_digest(path) == first
    path.write_text("a: 2\n")
    assert file_digest(path) != first
    assert file_digest(tmp_path / "missing.yaml") is None


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("ab\r\ncd", 3, (1, 4)),  # the \n of a CRLF is on the line it ends
        ("ab\r\ncd", 4, (2, 1)),
        ("ab\rcd", 3, (2, 1)),  # a lone CR ends a line
        ("a\u2028b\nc", 2, (1, 3)),  # LINE SEPARATOR does not
        ("a\u2028b\nc", 4, (2, 1)),
    ],
)
def test_positions_are_editor_lines_and_columns(
    text: str, index: int, expected: tuple[int, int]
) -> None:
    assert position(text, index) == expected
