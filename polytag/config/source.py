"""Reading a YAML config: its values, the line of every key, and ``--set`` overrides.

YAML is read with bounds (docs/robustness.md, "Training configs"): aliases may share a value but the config
they expand to may hold at most ``MAX_NODES`` values, and no value may nest deeper than ``MAX_DEPTH``
levels. A file beyond either bound is a ``ConfigError`` naming its line, found while composing the
YAML, before anything walks the expanded tree (a 537-byte "billion laughs" file used to exhaust memory
in the line index, a 10,000-deep nesting used to raise a raw ``RecursionError``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from polytag.errors import FormatError

MAX_NODES = 100_000
MAX_DEPTH = 64

KeyPath = tuple[Any, ...]


class ConfigError(FormatError):
    """A config that does not follow the schema: names the file, the line (when known) and the key."""


class ConfigSource:
    """Where the keys of a config came from: file lines, and which paths ``--set`` changed."""

    def __init__(self, path: Path | None, lines: dict[KeyPath, int] | None = None) -> None:
        self.path = path
        self.lines = lines or {}
        self.overridden: set[KeyPath] = set()

    def error(self, where: KeyPath, message: str) -> ConfigError:
        """A ``ConfigError`` for the key path ``where``, at the line of its nearest known key."""
        key = format_path(where)
        line = None
        probe = tuple(where)
        if any(probe[: len(o)] == o for o in self.overridden):
            message = f"{message} (set with --set)"
        else:
            while probe and line is None:
                line = self.lines.get(probe)
                probe = probe[:-1]
        text = f"{key}: {message}" if key else message
        return ConfigError(self.path, line, text)


def format_path(where: KeyPath) -> str:
    """``("tasks", 0, "head")`` -> ``"tasks[0].head"`` (for messages)."""
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class _DepthLimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses to compose values nested deeper than ``MAX_DEPTH``."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _TooLarge(mark.line + 1, f"values nest deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _TooLarge(Exception):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose expansion (aliases copied out) is too large or too deep.

    Each distinct node is measured once (memoised), so the check costs the size of the file, not of
    its expansion; the walk itself stops at ``MAX_DEPTH``, which also catches recursive aliases.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values in its expansion, its depth)

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            raise _TooLarge(node.start_mark.line + 1, f"values nest deeper than {MAX_DEPTH} levels")
        known = sizes.get(id(node))
        if known is None:
            count, deepest = 1, 0
            for child in _children(node):
                child_count, child_depth = measure(child, depth + 1)
                count += child_count
                deepest = max(deepest, child_depth + 1)
                if count > MAX_NODES:
                    raise _TooLarge(
                        node.start_mark.line + 1,  # the container: an alias's own mark is its anchor's
                        f"aliases expand the config to more than {MAX_NODES} values",
                    )
            known = sizes[id(node)] = (count, deepest)
        if depth + known[1] > MAX_DEPTH:
            raise _TooLarge(node.start_mark.line + 1, f"values nest deeper than {MAX_DEPTH} levels")
        return known

    measure(root, 1)


def _line_index(root: yaml.Node | None) -> dict[KeyPath, int]:
    """Key path -> 1-based line of that key in the YAML text (for error messages).

    Bounded by ``_check_expansion``: the expanded tree walked here has at most ``MAX_NODES`` values.
    """
    index: dict[KeyPath, int] = {}

    def walk(node: Any, where: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key: Any = key_node.value
                if isinstance(key, str) and key.lstrip("-").isdigit() and key_node.tag.endswith(":int"):
                    key = int(key)
                index[where + (key,)] = key_node.start_mark.line + 1
                walk(value_node, where + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                index[where + (i,)] = item.start_mark.line + 1
                walk(item, where + (i,))

    if root is not None:
        walk(root, ())
    return index


def read_yaml(text: str, path: Path | None = None) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML text within the bounds; returns the value and the line of every key.

    Errors are ``ConfigError`` naming ``path`` and the line.
    """
    loader = _DepthLimitedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        _check_expansion(root)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, line, f"not valid YAML: {problem}") from None
    except _TooLarge as exc:
        raise ConfigError(path, exc.line, f"too large: {exc.what}") from None
    finally:
        loader.dispose()
    return data, _line_index(root)


def load_config_text(text: str, path: Path | None = None) -> tuple[dict[str, Any], ConfigSource]:
    """A config from YAML text: the raw mapping and where each key came from."""
    data, lines = read_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, 1, f"a config must be a mapping of keys, got a {type(data).__name__}")
    return data, ConfigSource(path, lines)


def parse_override(text: str) -> tuple[KeyPath, Any]:
    """``"trainer.max_epochs=3"`` -> ``(("trainer", "max_epochs"), 3)``; values are read as YAML."""
    if "=" not in text:
        raise ConfigError(None, None, f"--set {text!r}: expected KEY=VALUE, e.g. trainer.max_epochs=3")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(None, None, f"--set {text!r}: the key must be dotted names like trainer.max_epochs")
    where = tuple(int(p) if p.lstrip("-").isdigit() else p for p in key.split("."))
    if len(where) > MAX_DEPTH:
        raise ConfigError(None, None, f"--set {key[:40]}...: keys nest deeper than {MAX_DEPTH} levels")
    if not raw.strip():
        return where, None
    try:
        value, _ = read_yaml(raw)
    except ConfigError as exc:
        raise ConfigError(None, None, f"--set {key}: the value is {exc.message}") from None
    return where, value


def apply_override(config: dict[str, Any], where: KeyPath, value: Any) -> None:
    """Set ``value`` at the key path ``where``, creating mappings on the way; list items by index."""
    node: Any = config
    for depth, part in enumerate(where[:-1]):
        following = where[depth + 1]
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                raise ConfigError(None, None, f"--set {format_path(where)}: no list item {part!r}")
            if not isinstance(node[part], (dict, list)):
                node[part] = {}
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise ConfigError(
                None, None, f"--set {format_path(where)}: {format_path(where[:depth])} is a value"
            )
        if part not in node or not isinstance(node[part], (dict, list)):
            node[part] = [] if isinstance(following, int) and part == "tasks" else {}
        node = node[part]
    last = where[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last <= len(node):
            raise ConfigError(None, None, f"--set {format_path(where)}: no list item {last!r}")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(None, None, f"--set {format_path(where)}: cannot set a key inside a value")


def load_config(
    path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()
) -> tuple[dict[str, Any], ConfigSource]:
    """Read a YAML config and apply ``--set`` overrides; returns the raw config and its source info."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason})") from None
    config, source = load_config_text(text, path)
    for item in overrides:
        where, value = parse_override(item)
        apply_override(config, where, value)
        source.overridden.add(where)
    return config, source
