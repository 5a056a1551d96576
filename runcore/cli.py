"""Command-line plumbing shared by ``textgan`` and ``imagegan``: one-line usage errors, and
flags made from a settings dataclass (the docstring under each field is its ``--help``)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import typing

from runcore.errors import UserError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says how to get help."""

    def error(self, message: str):
        raise UserError(message, f"see '{self.prog} --help'")


@functools.lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of dataclass ``cls`` (read from the source, as tyro does),
    its base dataclasses' fields included."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        body = ast.parse(inspect.getsource(klass)).body[0].body
        for node, following in zip(body, body[1:]):
            if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                docs[node.target.id] = " ".join(str(following.value.value).split())
    return docs


def add_dataclass_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: tuple[str, ...] = (),
    show_defaults: bool = False,
    prefix: str = "",
) -> list[str]:
    """Add ``--<prefix>field-name`` for each field of ``cls``; every flag defaults to None (= not given).

    bool fields become ``--x`` / ``--no-x`` switches, ``X | None`` takes X, ``tuple[X, ...]``
    takes one or more X. The parsed value lands in ``args.<prefix>field_name``. Returns those
    destination names.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    names = []
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        dest = prefix + field.name
        names.append(dest)
        flag, kind = "--" + prefix + field.name.replace("_", "-"), hints[field.name]
        help_text = docs.get(field.name, "")
        if show_defaults and field.default is not None and field.default is not dataclasses.MISSING:
            help_text = f"{help_text} (default {field.default})"
        if kind is bool:
            parser.add_argument(flag, dest=dest, action="store_true", default=None, help=help_text)
            negative = "--" + prefix + "no-" + field.name.replace("_", "-")
            parser.add_argument(negative, dest=dest, action="store_false", default=None, help=f"turn {flag} off")
            continue
        kind = next((a for a in typing.get_args(kind) if a is not type(None)), kind) if _is_optional(kind) else kind
        nargs = None
        if typing.get_origin(kind) is tuple:
            kind, nargs = typing.get_args(kind)[0], "+"
        parser.add_argument(flag, dest=dest, type=kind, nargs=nargs, default=None, help=help_text)
    return names


def given_flags(args: argparse.Namespace, names: list[str]) -> dict[str, typing.Any]:
    """The settings the user gave on the command line (flags left at None are not given)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _is_optional(kind) -> bool:
    import types

    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)
