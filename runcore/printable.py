"""Text from data made safe to print: control characters shown as escapes, never obeyed.

A corpus can hold anything, so a tokenizer piece or a generated sample can hold ESC and a
terminal escape sequence (clear the screen, retitle the window, hide what follows) or a carriage
return that overwrites the line. Printing ``printable(text)`` shows them as ``repr`` does
(``\\x1b``, ``\\r``) and leaves every other character as it is; newline and tab are kept.

Examples:
    >>> printable("春眠\\x1b[2Jok\\tdone\\r")
    '春眠\\\\x1b[2Jok\\tdone\\\\r'
    >>> one_line("bad\\npath")
    'bad\\\\npath'
"""

from __future__ import annotations

import re

__all__ = ["one_line", "printable"]

# C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F, e.g. CSI U+009B)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character other than newline and tab written as its escape."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def one_line(text: str) -> str:
    """``printable(text)`` with newlines escaped too: for a message that must stay one line (an
    error naming a path the user typed)."""
    return printable(text).replace("\n", "\\n")
