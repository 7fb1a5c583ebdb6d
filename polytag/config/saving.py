"""Saving a resolved config: ``config.yaml`` next to the model, and a portable copy inside it.

The copy inside a model file (key ``training_config``) travels with the model, so it must not leak
the trainer's disk layout (home folder, user name): every absolute path in it is rewritten relative
to the config's folder when it lies inside that folder, and otherwise reduced to
``<local>/<file name>``. ``config.yaml`` next to the model stays on the training machine and keeps
absolute paths.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import yaml

CONFIG_FILE_NAME = "config.yaml"
MODEL_CONFIG_KEY = "training_config"
REDACTED_PREFIX = "<local>/"


def dump_config(resolved: dict[str, Any]) -> str:
    """The resolved config as commented YAML text."""
    header = "# polytag training config, resolved: overrides applied, defaults filled in, paths absolute.\n"
    return header + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, default_flow_style=False)


def save_resolved(resolved: dict[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Write ``config.yaml`` into ``folder`` (next to the model files), atomically."""
    target = Path(folder) / CONFIG_FILE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(dump_config(resolved))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _is_absolute(text: str) -> bool:
    return text.startswith("~") or PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute()


def portable_path(text: str, base_dir: Path | None) -> str:
    """An absolute path made relative to ``base_dir`` when inside it, else ``<local>/<name>``."""
    if not _is_absolute(text):
        return text
    if base_dir is not None:
        try:
            relative = Path(text).expanduser().resolve().relative_to(base_dir.resolve())
        except ValueError:
            pass
        else:
            return relative.as_posix() or "."
    name = PureWindowsPath(text).name if "\\" in text else PurePosixPath(text).name
    return REDACTED_PREFIX + name


def portable_config(value: Any, base_dir: str | os.PathLike[str] | None = None) -> Any:
    """A copy of ``value`` with every absolute path string made portable (see ``portable_path``)."""
    base = Path(base_dir) if base_dir is not None else None
    if isinstance(value, str):
        return portable_path(value, base)
    if isinstance(value, dict):
        return {k: portable_config(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable_config(v, base) for v in value]
    return value


def embed_in_model(
    model_file: str | os.PathLike[str],
    resolved: dict[str, Any],
    base_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Store the resolved config inside a saved model file (key ``training_config``), paths portable.

    ``base_dir`` is the config's folder: paths inside it are kept, relative; without it every
    absolute path is reduced to ``<local>/<name>``.
    """
    from polytag.io import load_model_file, save_model_file

    config, tensors = load_model_file(model_file)
    config[MODEL_CONFIG_KEY] = portable_config(resolved, base_dir)
    save_model_file(model_file, config, tensors)
