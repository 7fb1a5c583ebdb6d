"""``Model.load``: check a model file against the model it describes before allocating anything.

The order matters because a model file is untrusted input whose config says how big the model is:

1. the header alone is checked (:func:`polytag.io.inspect_model_file`: structure, version, allow-listed
   classes, JSON depth), no tensor data read;
2. the whole model is built on the ``meta`` device (shapes without memory) and every state-dict shape is
   compared with the header; the memory the model would take (non-persistent buffers included) may not
   exceed the tensor bytes the file declares by more than :data:`BUILD_SLACK_BYTES`;
3. only then are the tensors read and the model built for real, so a config cannot make ``load``
   allocate much more than the file's own tensor bytes.

Any failure while building from a file that passed the checks is a :class:`ModelFileError` naming the
file, never a raw traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from polytag.embeddings import (
    DocumentPoolEmbeddings,
    StackedEmbeddings,
    TransformerEmbeddings,
    WordEmbeddings,
)
from polytag.errors import ModelFileError
from polytag.io import (
    get_model_class,
    header_dtypes,
    header_shapes,
    inspect_model_file,
    load_model_tensors,
)
from polytag.nn.bf16 import bf16_linear_layers, warn_if_slow_bf16
from polytag.nn.int8 import quantize_linear_layers

if TYPE_CHECKING:
    from polytag.models.base import Model

# What building may take beyond the file's declared tensor bytes: non-persistent buffers such as BERT's
# position ids (a few KB) and the like. A config describing more than this is refused before building.
BUILD_SLACK_BYTES = 64 * 2**20

# ``quantize=`` values of Model.load: the encoder's linear layers in int8 (polytag.nn.int8) or in bfloat16
# (polytag.nn.bf16); the heads stay float32 either way.
QUANTIZE_MODES = (None, "int8", "bf16")

_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0"}


def _with_path(path: Path, error: Exception) -> ModelFileError:
    """A ModelFileError whose message starts with the file's path."""
    message = str(error)
    if not message.startswith(str(path)):
        message = f"{path}: cannot build the model its config describes: {message or repr(error)}"
    return ModelFileError(message)


def embeddings_from_config(config: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> Any:
    """The embedding module one saved entry describes; the class comes from a fixed allow-list by the
    entry's ``"class"`` (classic embeddings by name, anything else is checked as a transformer)."""
    classic: dict[str, Any] = {
        "WordEmbeddings": WordEmbeddings,
        "StackedEmbeddings": StackedEmbeddings,
        "DocumentPoolEmbeddings": DocumentPoolEmbeddings,
    }
    name = config.get("class") if isinstance(config, dict) else None
    if isinstance(name, str) and name in classic:
        return classic[name].from_config(config, header_shapes=shapes)
    return TransformerEmbeddings.from_config(config, header_shapes=shapes)


def build_from_config(
    path: Path, model_cls: type[Model], config: dict[str, Any], shapes: dict[str, tuple[int, ...]]
) -> Model:
    """The model ``config`` describes, with fresh weights, on the current default device."""
    try:
        embeddings = {
            key: embeddings_from_config(emb_config, shapes)
            for key, emb_config in config.get("embeddings", {}).items()
        }
        return model_cls.from_config(config["model"], embeddings)
    except ModelFileError as error:
        raise _with_path(path, error) from None
    except Exception as error:  # passed the header checks, yet cannot be built: a damaged config
        raise ModelFileError(f"{path}: cannot build the model its config describes: {error!r}") from None


def _tensor_bytes(module: torch.nn.Module) -> int:
    """Bytes of every parameter and buffer (persistent or not) of ``module``, shared ones once."""
    seen: dict[int, torch.Tensor] = {}
    for tensor in (*module.parameters(), *module.buffers()):
        seen.setdefault(id(tensor), tensor)
    return sum(t.numel() * t.element_size() for t in seen.values())


def shape_problems(
    expected: dict[str, torch.Tensor], shapes: dict[str, tuple[int, ...]], dtypes: dict[str, str]
) -> list[str]:
    """How a model's state dict (``expected``, e.g. of a meta-device skeleton) differs from the header."""
    problems = []
    for name, tensor in expected.items():
        if name not in shapes:
            problems.append(f"missing tensor '{name}'")
        elif shapes[name] != tuple(tensor.shape):
            problems.append(f"tensor '{name}' has shape {shapes[name]}, expected {tuple(tensor.shape)}")
        elif (dtypes[name] in _FLOAT_DTYPES) != tensor.dtype.is_floating_point:
            problems.append(f"tensor '{name}' is {dtypes[name]}, expected {tensor.dtype}")
    extra = sorted(set(shapes) - set(expected))
    if extra:
        problems.append(f"unexpected tensors {extra[:5]}")
    return problems


def check_skeleton(path: Path, model_cls: type[Model], config: dict[str, Any], info: dict[str, Any]) -> None:
    """Build the model on the meta device and compare it with the header; ModelFileError if it differs."""
    shapes = header_shapes(info)
    with torch.device("meta"):
        skeleton = build_from_config(path, model_cls, config, shapes)
    problems = shape_problems(skeleton.state_dict(), shapes, header_dtypes(info))
    if problems:
        raise ModelFileError(f"{path}: does not match its config: " + "; ".join(problems[:10]))
    declared = int(info["file_size"]) - 8 - int(info["header_size"])  # checked: exactly the tensors
    needed = _tensor_bytes(skeleton)
    if needed > declared + BUILD_SLACK_BYTES:
        raise ModelFileError(
            f"{path}: its config describes a model of {needed:,} bytes, but the file declares only "
            f"{declared:,} bytes of tensors"
        )


def load_model(
    cls: type[Model],
    model_path: str | os.PathLike,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    quantize: str | None = None,
) -> Model:
    """What :meth:`Model.load` does (see there and the module docstring)."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, got {quantize!r}")
    path = Path(model_path)
    info = inspect_model_file(path, check_config=True)
    config = info["config"]
    model_cls = get_model_class(config.get("class", ""))
    if not cls.can_load(model_cls):
        raise ModelFileError(f"{path}: holds a {model_cls.__name__}, not a {cls.__name__}")
    check_skeleton(path, model_cls, config, info)
    tensors = load_model_tensors(path, info)
    model = build_from_config(path, model_cls, config, header_shapes(info))
    try:
        model.load_state_dict(tensors, strict=True)
    except Exception as error:  # the skeleton matched, so this is damage the checks cannot name
        raise _with_path(path, error) from None
    model.eval()
    if dtype is not None:
        model.to(dtype=dtype)
    if device is not None:
        model.to(device)
    if quantize is not None:
        if model.device.type != "cpu":
            raise ValueError(f"quantize={quantize!r} is for CPU inference; the model is on {model.device}")
        if quantize == "bf16":
            warn_if_slow_bf16()
        replace = bf16_linear_layers if quantize == "bf16" else quantize_linear_layers
        for encoder in model.embedding_modules():  # the heads' small decoders stay float
            replace(encoder)  # attention is per sentence already (TransformerEmbeddings sets it)
    return model
