"""polytag's model file: one safetensors file whose header metadata carries the model's JSON config.

Why not ``torch.save``: a pickle can run arbitrary code when it is loaded, so a model file downloaded from
anywhere would be a program. A safetensors file is a JSON header plus raw tensor bytes; reading it executes
nothing. The layout is (see docs/model-format.md)::

    8 bytes   little-endian unsigned header length N
    N bytes   JSON header: {"__metadata__": {str: str}, "<tensor>": {"dtype", "shape", "data_offsets"}, ...}
    rest      tensor bytes, exactly as long as the largest end offset

The metadata holds ``format="polytag"``, ``format_version``, ``config`` (JSON text) and ``aliases`` (JSON
text: names that refer to a tensor stored under another name, e.g. one encoder shared by several heads).
Every file is checked here before a single weight is handed out.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from polytag.errors import ModelFileError

FORMAT_NAME = "polytag"
FORMAT_VERSION: int = 1

# The same limit the safetensors library applies; a larger header is refused before it is read.
MAX_HEADER_BYTES = 100_000_000
# Deepest nesting of objects and arrays accepted in the header and the config: polytag's own files nest
# about 8 deep; deeper JSON only serves to exhaust the recursion of whatever walks it later.
MAX_JSON_DEPTH = 64

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MESSAGE = (
    "this looks like a pickle-based (torch.save/Flair) model file; polytag never unpickles files, because "
    "unpickling can run arbitrary code. Load it with the library that wrote it and save it again with "
    "polytag (model.save), which writes a safetensors file"
)

# Bytes per element of the safetensors dtypes torch can hold.
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
    "C64": 8,
    "C128": 16,
}

_METADATA_KEYS = ("format", "format_version", "config", "aliases")


# ---------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------


def _view_key(tensor: torch.Tensor) -> tuple:
    """Two tensors with the same key are the same view of the same memory."""
    return (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)


def _deduplicate(tensors: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Split ``tensors`` into the ones to store and aliases {alias: stored name}.

    Identical views (same address, shape, stride and dtype) are stored once under the first name. Every
    stored tensor is made contiguous and gets memory of its own (safetensors refuses tensors that overlap
    in memory, e.g. two slices of one buffer).
    """
    stored: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    first_name_of_view: dict[tuple, str] = {}
    storages_in_use: set[tuple] = set()
    for name, tensor in tensors.items():
        if not isinstance(name, str):
            raise ModelFileError(f"tensor names must be strings, got {name!r}")
        if name == "__metadata__":
            raise ModelFileError("'__metadata__' is reserved and cannot be a tensor name")
        if not isinstance(tensor, torch.Tensor):
            raise ModelFileError(f"'{name}' is a {type(tensor).__name__}, not a torch.Tensor")
        if tensor.is_meta:
            raise ModelFileError(f"tensor '{name}' is on the meta device and has no data to save")
        tensor = tensor.detach()
        if tensor.numel() > 0:
            key = _view_key(tensor)
            if key in first_name_of_view:
                aliases[name] = first_name_of_view[key]
                continue
            first_name_of_view[key] = name
            tensor = tensor.contiguous()
            storage = (tensor.device, tensor.untyped_storage().data_ptr())
            if storage in storages_in_use:
                tensor = tensor.clone()
                storage = (tensor.device, tensor.untyped_storage().data_ptr())
            storages_in_use.add(storage)
        stored[name] = tensor
    return stored, aliases


def _default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp makes files private to the owner)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory, so this is best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model_file(
    path: str | os.PathLike, config: dict[str, Any], tensors: Mapping[str, torch.Tensor]
) -> None:
    """Write ``config`` and ``tensors`` to ``path`` as a polytag safetensors file, atomically.

    The file is written next to ``path`` under a temporary name, flushed to disk and renamed over
    ``path``; if anything fails (disk full, no permission) the previous file is untouched and the
    temporary file is removed. Tensors that are the same view of the same memory (a shared encoder
    referenced by several heads) are stored once and recorded as aliases.
    """
    path = Path(path)
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the config must be a dict, got {type(config).__name__}")
    try:
        config_text = json.dumps(config, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: the config cannot be written as JSON: {error}") from error
    stored, aliases = _deduplicate(tensors)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": config_text,
        "aliases": json.dumps(aliases, ensure_ascii=False),
    }
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        safetensors.torch.save_file(stored, temp_name, metadata=metadata)
        with open(temp_name, "rb+") as handle:
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, _default_file_mode())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


# ---------------------------------------------------------------------------------------------------
# reading and checking
# ---------------------------------------------------------------------------------------------------


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json(text: str | bytes, what: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, problem)`` when ``text`` is not JSON or nests deeper than
    :data:`MAX_JSON_DEPTH` (json.loads itself raises RecursionError on very deep input)."""
    try:
        value = json.loads(text)
    except RecursionError:
        return None, f"{what} nests deeper than the {MAX_JSON_DEPTH} levels allowed"
    except (TypeError, ValueError) as error:
        return None, f"{what} is not valid JSON ({error})"
    if isinstance(value, (dict, list)) and _too_deep(value, MAX_JSON_DEPTH):
        return None, f"{what} nests deeper than the {MAX_JSON_DEPTH} levels allowed"
    return value, None


def _looks_like_pickle(head: bytes) -> bool:
    # A pickle of protocol 2 or later opens with the PROTO opcode 0x80 followed by the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _check_tensor_entries(entries: dict[str, Any], data_bytes: int, problems: list[str]) -> dict[str, dict]:
    """Check dtype, shape and offsets of every tensor entry; return {name: {"dtype", "shape"}}."""
    described: dict[str, dict] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            problems.append(f"tensor '{name}': header entry is not an object")
            continue
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            problems.append(f"tensor '{name}': shape {shape!r} is not a list of non-negative integers")
            continue
        described[name] = {"dtype": dtype, "shape": list(shape)}
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and o >= 0 for o in offsets)
            or offsets[1] < offsets[0]
        ):
            problems.append(
                f"tensor '{name}': data_offsets {offsets!r} are not [begin, end] with begin <= end"
            )
            continue
        if dtype not in _DTYPE_BYTES:
            problems.append(f"tensor '{name}': unsupported dtype {dtype!r}")
        elif math.prod(shape) * _DTYPE_BYTES[dtype] != offsets[1] - offsets[0]:
            problems.append(
                f"tensor '{name}': {dtype} {shape} needs {math.prod(shape) * _DTYPE_BYTES[dtype]} bytes, "
                f"but its offsets cover {offsets[1] - offsets[0]}"
            )
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            what = "overlaps the previous tensor" if begin < position else f"leaves a gap at byte {position}"
            problems.append(f"tensor '{name}': data starts at byte {begin} and {what}")
            break
        position = end
    described_bytes = max((end for _, end, _ in spans), default=0)
    if described_bytes > data_bytes:
        problems.append(
            f"the file is truncated: the header describes {described_bytes} bytes of tensor data but only "
            f"{data_bytes} follow it"
        )
    elif described_bytes < data_bytes:
        problems.append(
            f"{data_bytes - described_bytes} unexpected extra bytes after the tensor data "
            f"(the header describes {described_bytes} bytes)"
        )
    return described


def _check_metadata(metadata: Any, tensor_names: set[str], info: dict[str, Any], problems: list[str]) -> None:
    """Check the polytag part of the header: format, version, config and aliases."""
    if not isinstance(metadata, dict):
        problems.append(
            "no '__metadata__' in the header: this is a safetensors file, but not a polytag model file"
        )
        return
    info["metadata"] = {k: v for k, v in metadata.items() if k not in ("config",)}
    file_format = metadata.get("format")
    info["format"] = file_format
    if file_format != FORMAT_NAME:
        problems.append(
            f"metadata format is {file_format!r}, not {FORMAT_NAME!r}: this safetensors file was not "
            "written by polytag"
        )
        return
    raw_version = metadata.get("format_version", "1")  # files from before versioning are version 1
    try:
        version = int(raw_version)
    except (TypeError, ValueError):
        problems.append(f"format_version {raw_version!r} is not an integer")
    else:
        info["format_version"] = version
        if version > FORMAT_VERSION:
            problems.append(
                f"written by a newer polytag (format {version}; this one reads up to {FORMAT_VERSION}): "
                "upgrade polytag to load it"
            )
        elif version < 1:
            problems.append(f"format_version {version} is not a valid version")
    # the rest is read even when the version is wrong: `polytag info` shows what it can
    config, problem = parse_json(metadata.get("config", ""), "the config in the header")
    if problem is not None:
        problems.append(problem)
    else:
        if isinstance(config, dict):
            info["config"] = config
        else:
            problems.append(f"the config in the header is a JSON {type(config).__name__}, not an object")
    aliases, problem = parse_json(metadata.get("aliases", "{}"), "the aliases in the header")
    if problem is not None:
        problems.append(problem)
        return
    if not isinstance(aliases, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()
    ):
        problems.append("the aliases in the header are not an object of names to names")
        return
    for alias, target in aliases.items():
        if alias in tensor_names:
            problems.append(f"alias '{alias}' is also the name of a stored tensor")
        elif target not in tensor_names:
            problems.append(f"alias '{alias}' points to '{target}', which is not stored in the file")
    info["aliases"] = aliases


def _inspect(path: Path) -> dict[str, Any]:
    """Read and check the header of ``path`` without reading tensor data; damage goes to "problems"."""
    info: dict[str, Any] = {
        "path": str(path),
        "format": None,
        "format_version": None,
        "config": None,
        "tensors": {},
        "aliases": {},
        "metadata": {},
        "file_size": None,
        "header_size": None,
        "problems": [],
    }
    problems: list[str] = info["problems"]
    try:
        file_size = path.stat().st_size
        info["file_size"] = file_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if head.startswith(_ZIP_MAGIC) or _looks_like_pickle(head):
                problems.append(_PICKLE_MESSAGE)
                return info
            if len(head) < 8:
                problems.append(f"not a safetensors file: only {file_size} bytes long")
                return info
            (header_size,) = struct.unpack("<Q", head)
            info["header_size"] = header_size
            if header_size > MAX_HEADER_BYTES:
                problems.append(
                    f"not a safetensors file: header length {header_size} is larger than the "
                    f"{MAX_HEADER_BYTES} bytes allowed"
                )
                return info
            if header_size > file_size - 8:
                problems.append(
                    f"not a safetensors file, or truncated: header length {header_size} is more than the "
                    f"{file_size - 8} bytes that follow it"
                )
                return info
            raw_header = handle.read(header_size)
    except OSError as error:
        problems.append(f"cannot read the file: {error.strerror or error}")
        return info
    if not raw_header.startswith(b"{"):
        problems.append("not a safetensors file: the header is not a JSON object")
        return info
    try:
        text = raw_header.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(f"not a safetensors file: the header is not valid JSON ({error})")
        return info
    header, problem = parse_json(text, "the header")
    if problem is not None:
        problems.append(f"not a safetensors file: {problem}")
        return info
    if not isinstance(header, dict):
        problems.append("not a safetensors file: the header is not a JSON object")
        return info
    metadata = header.pop("__metadata__", None)
    info["tensors"] = _check_tensor_entries(header, file_size - 8 - header_size, problems)
    _check_metadata(metadata, set(header), info, problems)
    return info


def read_model_header(path: str | os.PathLike) -> dict[str, Any]:
    """Describe a model file from its header alone (no tensor data is read); never raises on damage.

    Returns ``{"format", "format_version", "config", "tensors": {name: {"dtype", "shape"}}, "aliases",
    "metadata", "file_size", "header_size", "problems": [...]}``; a sound file has no problems. Meant for
    ``polytag info``, which must describe damaged files too.
    """
    return _inspect(Path(path))


def inspect_model_file(path: str | os.PathLike, check_config: bool = False) -> dict[str, Any]:
    """Check a model file's header (no tensor data is read) and return what :func:`read_model_header`
    returns; raises :class:`ModelFileError` naming the file and every problem found.

    ``check_config`` also checks the config is a model config whose classes are on the allow-list
    (:func:`polytag.io.check_model_config`), as ``Model.load`` needs.
    """
    info = _inspect(Path(path))
    if check_config and not info["problems"]:
        from polytag.io.registry import check_model_config

        info["problems"].extend(check_model_config(info["config"]))
    if info["problems"]:
        raise ModelFileError(f"{path}: cannot load model file: " + "; ".join(info["problems"]))
    return info


def header_shapes(info: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Every tensor name of a checked header (aliases included) -> its shape, e.g. to compare with a
    model built on the meta device before any weight is allocated."""
    shapes = {name: tuple(entry["shape"]) for name, entry in info["tensors"].items()}
    for alias, target in info["aliases"].items():
        shapes[alias] = shapes[target]
    return shapes


def header_dtypes(info: dict[str, Any]) -> dict[str, str]:
    """Every tensor name of a checked header (aliases included) -> its safetensors dtype (``"F32"``)."""
    dtypes = {name: str(entry["dtype"]) for name, entry in info["tensors"].items()}
    for alias, target in info["aliases"].items():
        dtypes[alias] = dtypes[target]
    return dtypes


def load_model_tensors(
    path: str | os.PathLike,
    info: dict[str, Any],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """The tensors of a file whose header :func:`inspect_model_file` checked (``info``), aliases as the
    same tensor object as their target; refuses a file whose tensors no longer match that header."""
    path = Path(path)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ModelFileError(
            f"{path}: dtype must be a floating torch.dtype such as torch.bfloat16, got {dtype!r}"
        )
    try:
        tensors = safetensors.torch.load_file(path, device=str(device))
    except Exception as error:  # the safetensors library raises its own error types (and RuntimeError)
        raise ModelFileError(f"{path}: cannot load model file: {error}") from error
    described = info["tensors"]
    if set(tensors) != set(described) or any(
        list(tensors[name].shape) != list(described[name]["shape"]) for name in tensors
    ):
        raise ModelFileError(f"{path}: the tensors read do not match the header")
    if dtype is not None:
        tensors = {name: t.to(dtype) if t.is_floating_point() else t for name, t in tensors.items()}
    for alias, target in info["aliases"].items():
        tensors[alias] = tensors[target]
    return tensors


def load_model_file(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    check_config: bool = False,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Check and load a polytag model file: returns ``(config, tensors)``.

    Aliases come back as the same tensor object as the name they point to. ``dtype`` (e.g.
    ``torch.bfloat16``) casts the floating-point tensors, for inference in lower precision from a file
    saved in float32. Raises :class:`ModelFileError` naming the file and the problem, before any weight is
    returned, for anything that is not a sound polytag file of a version this code can read. Nothing is
    ever unpickled. ``check_config`` also checks the config is a model config whose classes are on the
    allow-list (:func:`polytag.io.check_model_config`), as ``Model.load`` needs.
    """
    path = Path(path)
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ModelFileError(
            f"{path}: dtype must be a floating torch.dtype such as torch.bfloat16, got {dtype!r}"
        )
    info = inspect_model_file(path, check_config=check_config)
    return info["config"], load_model_tensors(path, info, device=device, dtype=dtype)
