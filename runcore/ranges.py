"""The allowed values of numeric settings, declared as a table and checked in one place.

A settings dataclass declares ``{field name: Range}`` next to its fields; :func:`check_ranges`
checks every field against it, and every float field for being finite (NaN and infinity are
never a setting, so a field needs no entry to refuse them). ``None`` means "not set" and passes;
a tuple is checked element by element. The error names the flag, the value and what is allowed.

Examples:
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Settings:
    ...     lr: float = 0.1
    ...     steps: int = 10
    >>> RANGES = {"lr": positive(), "steps": at_least(1)}
    >>> check_ranges(Settings(), RANGES)
    >>> check_ranges(Settings(lr=float("inf")), RANGES)
    Traceback (most recent call last):
    ...
    runcore.ranges.SettingError: --lr inf must be finite and positive. Pass a positive number.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runcore.errors import UserError

__all__ = ["SEED", "Range", "SettingError", "at_least", "between", "check_ranges", "check_value", "positive"]


class SettingError(UserError, ValueError):
    """A setting outside its range: a ``UserError`` at the CLI edge, a ``ValueError`` to libraries.

    Attributes:
        name: the setting (field name, or the flag where there is no field).
        value: the offending value (one element of a tuple setting).
        requirement: what is allowed, e.g. ``"at least 1"``.
    """

    def __init__(self, flag: str, name: str, value: Any, requirement: str, fix: str):
        self.name, self.value, self.requirement = name, value, requirement
        super().__init__(f"{flag} {value} must be {requirement}", fix)


@dataclass(frozen=True)
class Range:
    """An interval of allowed values; ``fix`` (optional) is what the error tells the user to do."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    fix: str = ""

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return above and below  # False for NaN

    def describe(self) -> str:
        """What is allowed, in words: ``"at least 1"``, ``"positive"``, ``"in [0, 1)"``."""
        if self.high == math.inf:
            if self.low == -math.inf:
                return "a number"
            if self.open_low:
                return "positive" if self.low == 0 else f"above {_number(self.low)}"
            return "0 or more" if self.low == 0 else f"at least {_number(self.low)}"
        if self.low == -math.inf:
            return f"below {_number(self.high)}" if self.open_high else f"at most {_number(self.high)}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{_number(self.low)}, {_number(self.high)}{right}"

    def default_fix(self) -> str:
        if self.low == -math.inf and self.high == math.inf:
            return "pass a finite number"
        if self.high == math.inf and self.low != -math.inf and not self.open_low:
            return f"pass {_number(self.low)} or more"
        if self.high == math.inf and self.low == 0:
            return "pass a positive number"
        return f"pass a value {self.describe()}"


def at_least(low: float, fix: str = "") -> Range:
    return Range(low=low, fix=fix)


def positive(fix: str = "") -> Range:
    return Range(low=0, open_low=True, fix=fix)


def between(low: float, high: float, *, open_low: bool = False, open_high: bool = False, fix: str = "") -> Range:
    return Range(low=low, high=high, open_low=open_low, open_high=open_high, fix=fix)


SEED = between(0, 2**32 - 1, fix="pass a seed from 0 to 4294967295")
"""What every random generator the projects seed accepts (NumPy's is the narrowest)."""


def check_value(flag: str, value: Any, allowed: Range | None = None, name: str | None = None) -> None:
    """Raise :class:`SettingError` if ``value`` (a number, a tuple of numbers, or None) is outside
    ``allowed``, or is a float that is not finite. Booleans and other types pass."""
    allowed = allowed or Range()
    for item in value if isinstance(value, (tuple, list)) else (value,):
        if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        finite = not isinstance(item, float) or math.isfinite(item)
        if finite and item in allowed:
            continue
        described = allowed.describe()
        if finite:
            requirement = described
        else:
            requirement = "a finite number" if described == "a number" else f"finite and {described}"
        raise SettingError(flag, name or flag, item, requirement, allowed.fix or allowed.default_fix())


def check_ranges(settings: Any, ranges: Mapping[str, Range], flag_prefix: str = "--") -> None:
    """Check every field of dataclass ``settings`` against ``ranges`` (see the module docstring).

    Args:
        settings: a dataclass instance.
        ranges: field name -> allowed values; a name that is not a field is a programming error.
        flag_prefix: what goes before the dashed field name in the message (``"--"`` for a flag,
            ``""`` for a library's plain field names).

    Raises:
        SettingError: the first field outside its range, or the first non-finite float.
    """
    names = [field.name for field in dataclasses.fields(settings)]
    unknown = sorted(set(ranges) - set(names))
    if unknown:
        raise TypeError(f"ranges given for {', '.join(unknown)}, which {type(settings).__name__} does not have")
    for name in names:
        flag = flag_prefix + (name.replace("_", "-") if flag_prefix else name)
        check_value(flag, getattr(settings, name), ranges.get(name), name)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
