"""The allowed keys of a config section and their types, read from Python signatures.

Types come from ``typing.get_type_hints`` and are taken apart with ``typing.get_origin`` /
``get_args``, so ``Optional[int]``, ``int | None`` and ``Union[int, None]`` are one type. A type that
YAML cannot give (a Python object) accepts nothing but None where None is allowed: such options
cannot come from a YAML file.
"""

from __future__ import annotations

import collections.abc
import difflib
import inspect
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from polytag.config.source import ConfigError, ConfigSource, KeyPath

_NOT_FROM_YAML = {"self", "kwargs", "corpusargs", "reader_args", "args"}

_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable)
_ITEM_CHECKED = (list, collections.abc.Sequence, collections.abc.Iterable)  # tuples: items unchecked
_MAPPINGS = (dict, collections.abc.Mapping)
_PATHS = (str, os.PathLike, Path)
_NUMBER_LIKE = "0123456789+-.eEinfINFaAnN"


def _union_args(annotation: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return None


def _coerce_float(value: Any) -> tuple[bool, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, float(value)
    if isinstance(value, str) and value and all(c in _NUMBER_LIKE for c in value.strip()):
        try:
            return True, float(value)
        except ValueError:
            return False, value
    return False, value


def _coerce_union(value: Any, options: tuple[Any, ...]) -> tuple[bool, Any]:
    for option in options:
        ok, out = coerce(value, option)
        if ok:
            return True, out
    return False, value


def _coerce_sequence(value: Any, annotation: Any, origin: Any) -> tuple[bool, Any]:
    if not isinstance(value, list):
        return False, value
    args = typing.get_args(annotation)
    if origin not in _ITEM_CHECKED or len(args) != 1:
        return True, value
    out = []
    for item in value:
        ok, item = coerce(item, args[0])
        if not ok:
            return False, value
        out.append(item)
    return True, out


_SCALARS: dict[Any, Callable[[Any], tuple[bool, Any]]] = {
    bool: lambda v: (isinstance(v, bool), v),
    int: lambda v: (isinstance(v, int) and not isinstance(v, bool), v),
    float: _coerce_float,
    type(None): lambda v: (v is None, v),
    None: lambda v: (v is None, v),
}


def coerce(value: Any, annotation: Any) -> tuple[bool, Any]:
    """Whether ``value`` (from YAML) fits the type ``annotation``, and the value to use.

    YAML reads ``5e-5`` as a string (YAML 1.1 wants ``5.0e-5``), so a string that is a number is
    accepted where a float is expected.
    """
    options = _union_args(annotation)
    if options is not None:
        return _coerce_union(value, options)
    if annotation in (Any, object, inspect.Parameter.empty):
        return True, value
    scalar = _SCALARS.get(annotation)
    if scalar is not None:
        return scalar(value)
    origin = typing.get_origin(annotation) or annotation
    if origin in _PATHS:
        return isinstance(value, str), value
    if origin in _SEQUENCES:
        return _coerce_sequence(value, annotation, origin)
    if origin in _MAPPINGS:
        return isinstance(value, dict), value
    if origin is typing.Literal:
        return value in typing.get_args(annotation), value
    return False, value


def describe(annotation: Any) -> str:
    """A type as messages show it: ``int``, ``str | path | None``, ``list[str]``."""
    options = _union_args(annotation)
    if options is not None:
        if str in options and any(is_path_type(option) for option in options):
            options = tuple(option for option in options if option is not str)  # str | PathLike: a path
        return " | ".join(describe(option) for option in options)
    if annotation in (Any, inspect.Parameter.empty):
        return "Any"
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else describe(a) for a in typing.get_args(annotation))
        return f"{describe(origin)}[{args}]"
    if annotation is os.PathLike or annotation is Path:
        return "path"
    return getattr(annotation, "__name__", None) or str(annotation)


def is_path_type(annotation: Any) -> bool:
    """Whether a type allows ``os.PathLike``: its string values are paths, relative to the config."""
    options = _union_args(annotation)
    if options is not None:
        return any(is_path_type(option) for option in options)
    return (typing.get_origin(annotation) or annotation) is os.PathLike


class Param:
    """One allowed key: its type and default (``REQUIRED`` when there is none)."""

    REQUIRED: Any = object()

    def __init__(self, annotation: Any = Any, default: Any = REQUIRED, path: bool = False) -> None:
        self.annotation = annotation
        self.default = default
        self.path = path or is_path_type(annotation)


def _type_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The evaluated annotations of ``func``; one that cannot be evaluated counts as unknown (object)."""
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - a name only imported for type checkers: evaluate one by one
        pass
    namespace = dict(getattr(inspect.unwrap(func), "__globals__", {}))
    hints: dict[str, Any] = {}
    for name, raw in getattr(func, "__annotations__", {}).items():
        try:
            hints[name] = eval(raw, namespace) if isinstance(raw, str) else raw  # noqa: S307 - own source
        except Exception:  # noqa: BLE001 - e.g. "Corpus | None" without Corpus at run time
            hints[name] = _unknown_with_none(raw)
    return hints


class _Unknown:
    """Stands for a type that cannot be evaluated: accepts no YAML value."""


def _unknown_with_none(raw: Any) -> Any:
    """An unevaluable annotation text still allows None when it says ``| None`` / ``Optional[``."""
    text = str(raw).replace(" ", "")
    if text.endswith("|None") or text.startswith(("None|", "Optional[")):
        return _Unknown | None
    return _Unknown


def signature_params(
    func: Callable[..., Any], exclude: set[str] | frozenset[str] = frozenset()
) -> dict[str, Param]:
    """The keyword parameters of ``func`` that a YAML file can give, with types and defaults."""
    hints = _type_hints(func)
    params: dict[str, Param] = {}
    for name, p in inspect.signature(func).parameters.items():
        if name in _NOT_FROM_YAML or name in exclude or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = Param.REQUIRED if p.default is inspect.Parameter.empty else p.default
        params[name] = Param(hints.get(name, Any), default)
    return params


def jsonable_default(value: Any) -> Any:
    """A signature default as plain data (classes by dotted name, tuples as lists)."""
    if inspect.isclass(value):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, (tuple, list)):
        return [jsonable_default(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable_default(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return str(value)
    return value


def unknown_key(source: ConfigSource, where: KeyPath, key: Any, allowed: list[str]) -> ConfigError:
    """The error for a key not in ``allowed``: the closest allowed key and the full list."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return source.error(
        where + (key,),
        f"unknown key '{key}'{hint}; allowed keys here: {', '.join(sorted(map(str, allowed)))}",
    )


def check_mapping(value: Any, source: ConfigSource, where: KeyPath, what: str) -> dict[Any, Any]:
    """``value`` as a mapping (None: empty), or an error saying ``what`` must be one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.error(where, f"{what} must be a mapping of keys, got {type(value).__name__} {value!r}")
    return value


def resolve_path(value: str, base_dir: Path) -> str:
    """A path from a config, absolute: relative ones are relative to ``base_dir``."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path).resolve())


def check_params(
    given: dict[str, Any],
    params: dict[str, Param],
    source: ConfigSource,
    where: KeyPath,
    base_dir: Path,
    fill_defaults: bool = True,
    extra_ok: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Validate ``given`` against ``params``: unknown keys, types, required keys; fill defaults."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        param = params.get(key)
        if param is None:
            if extra_ok is not None and extra_ok(key):
                out[key] = value
                continue
            raise unknown_key(source, where, key, list(params))
        ok, value = coerce(value, param.annotation)
        if not ok:
            raise source.error(
                where + (key,),
                f"expected {describe(param.annotation)}, got {type(value).__name__} {value!r}",
            )
        if param.path and isinstance(value, str):
            value = resolve_path(value, base_dir)
        out[key] = value
    for key, param in params.items():
        if key in out:
            continue
        if param.default is Param.REQUIRED:
            raise source.error(where, f"missing required key '{key}'")
        if fill_defaults:
            out[key] = jsonable_default(param.default)
    return out
