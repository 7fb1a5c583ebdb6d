"""Training checkpoints: a folder written atomically, holding everything needed to continue a run.

Layout of ``<base_path>/checkpoints/step-000001234/``:

- ``model.safetensors``: the model's ``state_dict``;
- ``training-state.safetensors``: optimizer tensors (``optimizer.<param>.<name>``) and RNG tensors
  (``rng.torch``, ``rng.cuda.<i>``);
- ``trainer-state.json``: everything else (configuration, epoch, step, sampler position, schedule,
  optimizer hyper-parameters, python and numpy RNG states, histories).

No pickle: tensors go through safetensors, the rest through JSON. A checkpoint is written into a
hidden temporary folder, fsynced and renamed into place; older checkpoints are removed only after the
new one is complete, so a crash at any moment leaves at least one complete checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from polytag.errors import ModelFileError, PolytagError

FORMAT = "polytag-checkpoint"
VERSION = 1
STATE_FILE = "trainer-state.json"
MODEL_FILE = "model.safetensors"
TENSOR_FILE = "training-state.safetensors"
CHECKPOINT_DIR = "checkpoints"


class CheckpointNotFoundError(PolytagError, FileNotFoundError):
    """No complete checkpoint at the given path."""


class CheckpointWriteError(PolytagError, OSError):
    """A checkpoint could not be written (disk full, no permission); the previous one is left intact."""


@dataclass
class CheckpointData:
    """What one checkpoint holds, in memory."""

    model: dict[str, torch.Tensor]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


# -- tensors and JSON ----------------------------------------------------------------------------------
def _saveable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, no two entries sharing memory (safetensors refuses shared storage)."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for name, tensor in tensors.items():
        t = tensor.detach()
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()) if t.numel() else (0, 0)
        if t.numel() and key in seen:
            t = t.clone()
        seen.add(key)
        out[name] = t.to("cpu").contiguous()
    return out


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _json_value(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


# -- optimizer -----------------------------------------------------------------------------------------
def optimizer_to_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON-able values."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain_state: dict[str, dict[str, Any]] = {}
    for param_id, entries in state_dict["state"].items():
        plain: dict[str, Any] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{param_id}.{key}"] = value
            else:
                plain[key] = _json_value(value)
        plain_state[str(param_id)] = plain
    groups = [_json_value(group) for group in state_dict["param_groups"]]
    return tensors, {"state": plain_state, "param_groups": groups}


def optimizer_from_parts(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in meta["state"].items()}
    for name, tensor in tensors.items():
        if not name.startswith("optimizer."):
            continue
        _, param_id, key = name.split(".", 2)
        state.setdefault(int(param_id), {})[key] = tensor
    current = optimizer.param_groups
    if len(current) != len(meta["param_groups"]):
        raise ModelFileError(
            f"checkpoint optimizer has {len(meta['param_groups'])} parameter groups, this one {len(current)}"
        )
    groups = []
    for saved, live in zip(meta["param_groups"], current):
        group = dict(saved)
        for key, value in group.items():
            if isinstance(live.get(key), tuple) and isinstance(value, list):
                group[key] = tuple(value)
        groups.append(group)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# -- random states -------------------------------------------------------------------------------------
def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every random state a training step may draw from: torch (CPU and CUDA), python, numpy."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    meta = {
        "python": [version, list(internal), gauss],
        "numpy": [np_name, np.asarray(np_keys).tolist(), int(np_pos), int(np_has_gauss), float(np_cached)],
    }
    return tensors, meta


def restore_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    cuda_states = sorted(
        (int(k.rsplit(".", 1)[1]), v) for k, v in tensors.items() if k.startswith("rng.cuda.")
    )
    if cuda_states and torch.cuda.is_available():
        for index, state in cuda_states[: torch.cuda.device_count()]:
            torch.cuda.set_rng_state(state.to(torch.uint8), index)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# -- folders -------------------------------------------------------------------------------------------
def checkpoint_name(global_step: int) -> str:
    return f"step-{global_step:09d}"


def _complete_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.name.startswith("step-") and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def _restore_orphans(root: Path) -> None:
    """Put back a checkpoint moved aside by a save of the same step that was killed before it finished."""
    for old in root.glob(".tmp-old-step-*"):
        name = old.name[len(".tmp-old-") :].rsplit("-", 1)[0]
        if (old / STATE_FILE).is_file() and not (root / name).exists():
            os.rename(old, root / name)


def _write_folder(tmp: Path, data: CheckpointData) -> None:
    tmp.mkdir()
    save_file(_saveable(data.model), str(tmp / MODEL_FILE))
    save_file(_saveable(data.tensors), str(tmp / TENSOR_FILE))
    state = {"format": FORMAT, "version": VERSION, **data.state}
    with open(tmp / STATE_FILE, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_file(tmp / MODEL_FILE)
    _fsync_file(tmp / TENSOR_FILE)
    _fsync_dir(tmp)


def save_checkpoint(root: str | os.PathLike, name: str, data: CheckpointData, keep: int = 1) -> Path:
    """Write ``root/name`` atomically and keep only the ``keep`` newest complete checkpoints.

    Everything is written into a hidden folder that is renamed into place once complete; older
    checkpoints are removed only after that. If writing fails (a full disk, no permission) the hidden
    folder is removed, the previous checkpoints are untouched, and :class:`CheckpointWriteError` says
    what happened.
    """
    root = Path(root)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        _restore_orphans(root)
        for stale in root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        _write_folder(tmp, data)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        previous = _complete_checkpoints(root)
        kept = (
            f"the previous checkpoint {previous[-1]} is intact"
            if previous
            else "no earlier checkpoint exists"
        )
        raise CheckpointWriteError(
            error.errno, f"could not write checkpoint {name} in {root}: {error.strerror or error}; {kept}"
        ) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = root / name
    old = None
    if final.exists():  # the same step saved again (e.g. Ctrl-C right after a scheduled checkpoint)
        old = root / f".tmp-old-{name}-{os.getpid()}"
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    for older in _complete_checkpoints(root)[: -max(1, keep)]:
        if older != final:
            shutil.rmtree(older, ignore_errors=True)
    return final


def find_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint folder itself, or the newest complete one under a training folder."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    for root in (path / CHECKPOINT_DIR, path):
        if root.is_dir():
            try:
                _restore_orphans(root)
            except OSError:  # a read-only folder: the orphan stays where it is
                pass
        found = _complete_checkpoints(root)
        if found:
            return found[-1]
    raise CheckpointNotFoundError(f"{path}: no complete checkpoint (expected a folder with {STATE_FILE})")


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[Path, CheckpointData]:
    folder = find_checkpoint(path)
    try:
        with open(folder / STATE_FILE, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{folder / STATE_FILE}: unreadable checkpoint state ({error})") from error
    if state.get("format") != FORMAT:
        raise ModelFileError(f"{folder / STATE_FILE}: not a polytag checkpoint")
    if state.get("version", 0) > VERSION:
        raise ModelFileError(
            f"{folder}: checkpoint version {state['version']} is newer than this polytag reads ({VERSION})"
        )
    try:
        model = load_file(str(folder / MODEL_FILE), device=str(device))
        tensors = load_file(str(folder / TENSOR_FILE), device="cpu")
    except Exception as error:  # safetensors raises its own error types for truncated files
        raise ModelFileError(f"{folder}: unreadable checkpoint tensors ({error})") from error
    return folder, CheckpointData(model=model, tensors=tensors, state=state)
