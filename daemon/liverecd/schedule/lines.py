"""Line breaks as YAML 1.2 and editors count them.

PyYAML (YAML 1.1) ends a line at `\\n`, `\\r\\n` and `\\r`, and also at NEL (U+0085), LINE
SEPARATOR (U+2028) and PARAGRAPH SEPARATOR (U+2029). YAML 1.2 and editors do not break at the
last three, which come with text pasted from web pages and word processors: one of them in a
comment would cut the comment in two (a syntax error on a line the editor does not show) and
shift every later line number. So they are masked before PyYAML reads the text, as Unicode
noncharacters (reserved for exactly such internal use), and unmasked in the values built.
"""

from __future__ import annotations

import re

UNUSUAL_BREAKS = "\x85\u2028\u2029"
MASKS = "\ufdd0\ufdd1\ufdd2"
_MASK = str.maketrans(UNUSUAL_BREAKS, MASKS)
_UNMASK = str.maketrans(MASKS, UNUSUAL_BREAKS)
_BREAK = re.compile(r"\r\n|\r|\n")
_BYTE_BREAK = re.compile(rb"\r\n|\r|\n")


def mask_breaks(text: str) -> tuple[str, bool]:
    """`text` with the unusual breaks masked, and whether there were any."""
    if not any(c in text for c in UNUSUAL_BREAKS):
        return text, False
    return text.translate(_MASK), True


def unmask(value: str) -> str:
    """A scalar read from masked text, as written."""
    return value.translate(_UNMASK)


def first_mask(text: str) -> int:
    """Index of the first character of `text` that is one of the masks, or -1."""
    return min((i for i in map(text.find, MASKS) if i >= 0), default=-1)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based editor line and column of the character at `index`."""
    starts = [0, *(m.end() for m in _BREAK.finditer(text, 0, index))]
    if starts[-1] == index > 0 and text[index - 1 : index + 1] == "\r\n":
        starts.pop()  # the `\n` of a `\r\n` ends the line the `\r` is on
    return len(starts), index - starts[-1] + 1


def line_at_byte(data: bytes, offset: int) -> int:
    """1-based editor line of the byte at `offset` (for text that cannot be decoded)."""
    return sum(1 for _ in _BYTE_BREAK.finditer(data, 0, offset)) + 1
