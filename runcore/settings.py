"""Settings read back from a run's ``config.json``: each value checked against its field's type.

A run's settings are a dataclass written as JSON. Read back, a value of the wrong type (a
tampered or hand-edited file: ``"rounds": "x"``) would pass the constructor and fail much later
with a traceback; :func:`settings_from_json` names it at once.

Examples:
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Demo:
    ...     rounds: int = 1
    ...     sizes: tuple[int, ...] = (2, 3)
    >>> settings_from_json(Demo, {"rounds": 4, "sizes": [5]}, "config.json")
    Demo(rounds=4, sizes=(5,))
    >>> settings_from_json(Demo, {"rounds": "x"}, "config.json")
    Traceback (most recent call last):
    ...
    runcore.errors.CheckpointError: config.json is corrupt: rounds is 'x', not int. Restore it from a backup, or start a new run.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from runcore.errors import CheckpointError

__all__ = ["settings_from_json"]

_FIX = "restore it from a backup, or start a new run"


def settings_from_json(cls: type, values: Any, source: str, ignore: tuple[str, ...] = ()) -> Any:
    """``cls(**values)`` after checking that ``values`` is an object whose entries have their
    fields' types (lists become tuples where the field is a tuple); ``ignore``: keys that are
    not settings. Missing fields take their defaults (runs made before a field existed).

    Raises:
        CheckpointError: not an object, an unknown key, or a value of the wrong type.
    """
    if not isinstance(values, dict):
        raise CheckpointError(f"{source} is corrupt (it holds a {type(values).__name__}, not an object)", _FIX)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names - set(ignore))
    if unknown:
        raise CheckpointError(f"{source} holds unknown settings {', '.join(unknown)}", "use a run made by this version, or start a new run")
    converted = {}
    for name in names & set(values):
        ok, value = _convert(values[name], hints[name])
        if not ok:
            raise CheckpointError(f"{source} is corrupt: {name} is {values[name]!r}, not {_describe(hints[name])}", _FIX)
        converted[name] = value
    return cls(**converted)


def _convert(value: Any, kind: Any) -> tuple[bool, Any]:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            ok, converted = _convert(value, option)
            if ok:
                return True, converted
        return False, value
    if kind is type(None):
        return value is None, value
    if kind is Any:
        return True, value
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) if isinstance(value, (int, float)) else value
    if kind is str:
        return isinstance(value, str), value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return False, value
        items = [_convert(v, args[0]) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin is dict or kind is dict:
        return isinstance(value, dict), value
    if origin is list or kind is list:
        return isinstance(value, list), value
    return True, value  # a type this reader does not know: left to the settings' own checks


def _describe(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
