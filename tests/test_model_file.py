"""The model file: safetensors + JSON config, shared tensors stored once, atomic writes, and refusal of
anything else (pickles above all) before a single weight is returned."""

from __future__ import annotations

import errno
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch

from polytag.errors import ModelFileError, PolytagError
from polytag.io import (
    FORMAT_VERSION,
    get_model_class,
    load_model_file,
    read_model_header,
    register_model_class,
    registered_model_classes,
    save_model_file,
)
from polytag.io import model_file as model_file_module

CONFIG = {"class": "TinyTagger", "model": {"labels": ["O", "B-PER", "I-PER"], "dropout": 0.1}, "note": "ünï"}


class TwoHeads(torch.nn.Module):
    """Two heads that reference one encoder, as a multitask model does."""

    def __init__(self) -> None:
        super().__init__()
        encoder = torch.nn.Linear(128, 128)
        self.first = torch.nn.ModuleDict({"encoder": encoder, "out": torch.nn.Linear(128, 3)})
        self.second = torch.nn.ModuleDict({"encoder": encoder, "out": torch.nn.Linear(128, 5)})


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return dict(TwoHeads().state_dict())


def _write_raw(path: Path, header: dict, data: bytes) -> None:
    """A safetensors-shaped file with whatever header we like (to build damaged files)."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


# -- round trip ------------------------------------------------------------------------------------


def test_round_trip_stores_shared_encoder_once_and_restores_one_object(tmp_path: Path) -> None:
    state = _state()
    assert state["first.encoder.weight"].data_ptr() == state["second.encoder.weight"].data_ptr()
    path = tmp_path / "final-model.pt"
    save_model_file(path, CONFIG, state)

    one_copy = sum(
        t.numel() * t.element_size() for n, t in state.items() if not n.startswith("second.encoder")
    )
    both_copies = sum(t.numel() * t.element_size() for t in state.values())
    size = path.stat().st_size
    assert one_copy <= size < one_copy + 4096 < both_copies

    config, tensors = load_model_file(path)
    assert config == CONFIG
    assert set(tensors) == set(state)
    for name, tensor in state.items():
        assert torch.equal(tensors[name], tensor), name
    assert tensors["second.encoder.weight"] is tensors["first.encoder.weight"]
    assert tensors["second.encoder.bias"] is tensors["first.encoder.bias"]
    assert tensors["first.out.weight"] is not tensors["second.out.weight"]

    header = read_model_header(path)
    assert header["problems"] == []
    assert header["format_version"] == FORMAT_VERSION
    assert header["aliases"] == {
        "second.encoder.weight": "first.encoder.weight",
        "second.encoder.bias": "first.encoder.bias",
    }
    assert "second.encoder.weight" not in header["tensors"]
    assert header["tensors"]["first.encoder.weight"] == {"dtype": "F32", "shape": [128, 128]}
    assert header["config"] == CONFIG


def test_views_non_contiguous_and_other_dtypes_round_trip(tmp_path: Path) -> None:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {
        "transposed": base.t(),  # non-contiguous view of base
        "row0": base[0],  # views sharing base's memory but not identical to each other
        "row1": base[1],
        "ids": torch.tensor([3, -1, 7], dtype=torch.int64),
        "mask": torch.tensor([True, False]),
        "empty": torch.zeros(0, 3),
        "half": torch.tensor([1.5, -2.0], dtype=torch.float16),
    }
    path = tmp_path / "m.pt"
    save_model_file(path, {}, tensors)
    _, loaded = load_model_file(path, device=torch.device("cpu"))
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype, name
        assert torch.equal(loaded[name], tensor), name
    assert read_model_header(path)["aliases"] == {}


def test_saved_file_has_ordinary_permissions(tmp_path: Path) -> None:
    path = tmp_path / "final-model.pt"
    save_model_file(path, {}, {"w": torch.ones(2)})
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_bf16_and_fp16_cast_on_load(tmp_path: Path) -> None:
    state = _state()
    state["positions"] = torch.arange(5)
    path = tmp_path / "final-model.pt"
    save_model_file(path, {}, state)
    for dtype in (torch.bfloat16, torch.float16):
        _, tensors = load_model_file(path, dtype=dtype)
        assert tensors["first.encoder.weight"].dtype == dtype
        assert tensors["second.encoder.weight"] is tensors["first.encoder.weight"]
        assert tensors["positions"].dtype == torch.int64
        torch.testing.assert_close(
            tensors["first.out.weight"].float(), state["first.out.weight"], atol=1e-2, rtol=1e-2
        )
    _, as_saved = load_model_file(path)
    assert as_saved["first.encoder.weight"].dtype == torch.float32
    with pytest.raises(ModelFileError, match="dtype"):
        load_model_file(path, dtype=torch.int8)


def test_unserialisable_config_and_bad_tensors_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    with pytest.raises(ModelFileError, match="JSON"):
        save_model_file(path, {"x": object()}, {"w": torch.ones(1)})
    with pytest.raises(ModelFileError, match="not a torch.Tensor"):
        save_model_file(path, {}, {"w": [1.0, 2.0]})
    assert list(tmp_path.iterdir()) == []


# -- refusing pickles --------------------------------------------------------------------------------


class _Booby:
    """Unpickling this creates the marker file: proof that something unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every unpickling entry point fail loudly for the duration of a test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)


@pytest.mark.parametrize("how", ["pickle-protocol-2", "pickle-protocol-4", "torch.save"])
def test_pickle_files_are_refused_without_unpickling(tmp_path: Path, how: str, request) -> None:
    marker = tmp_path / "UNPICKLED"
    path = tmp_path / "final-model.pt"
    payload = {"state_dict": {"w": torch.ones(2)}, "trap": _Booby(str(marker))}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=int(how[-1])))
    request.getfixturevalue("no_unpickling")

    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "pickle-based (torch.save/Flair) model file" in message
    assert "never unpickles" in message
    header = read_model_header(path)
    assert any("pickle" in problem for problem in header["problems"])
    assert not marker.exists()


# -- damaged and foreign files -----------------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "final-model.pt"
    save_model_file(path, CONFIG, _state())
    return path


def test_truncated_file(good_file: Path) -> None:
    data = good_file.read_bytes()
    good_file.write_bytes(data[:-100])
    with pytest.raises(ModelFileError, match="truncated") as caught:
        load_model_file(good_file)
    assert str(good_file) in str(caught.value)
    header = read_model_header(good_file)  # describes the damage instead of raising
    assert any("truncated" in p for p in header["problems"])
    assert header["config"] == CONFIG
    assert header["file_size"] == len(data) - 100

    good_file.write_bytes(data[:20])  # cut inside the header
    with pytest.raises(ModelFileError, match="header length"):
        load_model_file(good_file)
    assert read_model_header(good_file)["problems"]


def test_extra_bytes_after_the_data(good_file: Path) -> None:
    with open(good_file, "ab") as handle:
        handle.write(b"\0" * 16)
    with pytest.raises(ModelFileError, match="16 unexpected extra bytes"):
        load_model_file(good_file)
    assert any("extra bytes" in p for p in read_model_header(good_file)["problems"])


def _metadata(**overrides: str) -> dict[str, str]:
    metadata = {"format": "polytag", "format_version": "1", "config": json.dumps(CONFIG), "aliases": "{}"}
    metadata.update(overrides)
    return metadata


def test_newer_format_version(tmp_path: Path) -> None:
    path = tmp_path / "final-model.pt"
    version = str(FORMAT_VERSION + 1)
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata=_metadata(format_version=version))
    with pytest.raises(ModelFileError, match="written by a newer polytag"):
        load_model_file(path)
    assert read_model_header(path)["format_version"] == FORMAT_VERSION + 1


def test_config_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "final-model.pt"
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata=_metadata(config="{'class': oops"))
    with pytest.raises(ModelFileError, match="config in the header is not valid JSON"):
        load_model_file(path)
    header = read_model_header(path)
    assert header["config"] is None and header["problems"]


def test_safetensors_file_not_written_by_polytag(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, path)
    with pytest.raises(ModelFileError, match="not a polytag model file"):
        load_model_file(path)
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="not written by polytag"):
        load_model_file(path)


def test_alias_to_a_missing_tensor(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata=_metadata(aliases='{"v": "nowhere"}'))
    with pytest.raises(ModelFileError, match="alias 'v' points to 'nowhere'"):
        load_model_file(path)


@pytest.mark.parametrize(
    ("header", "data", "expected"),
    [
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8 bytes"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "gap at byte 0"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
            },
            b"\0" * 8,
            "overlaps",
        ),
        ({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 2, "unsupported dtype"),
        ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, "shape"),
    ],
)
def test_inconsistent_tensor_entries(tmp_path: Path, header: dict, data: bytes, expected: str) -> None:
    path = tmp_path / "m.pt"
    _write_raw(path, {"__metadata__": _metadata(), **header}, data)
    with pytest.raises(ModelFileError, match=expected):
        load_model_file(path)
    assert any(expected in p for p in read_model_header(path)["problems"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "only 0 bytes"),
        (b"abc", "only 3 bytes"),
        (struct.pack("<Q", 2**40) + b"{}", "larger than"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (struct.pack("<Q", 4) + b"{x:1", "not valid JSON"),
        (struct.pack("<Q", 2) + b"\xff\xfe", "not a JSON object"),
    ],
)
def test_not_a_safetensors_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "final-model.pt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=expected):
        load_model_file(path)
    header = read_model_header(path)
    assert any(expected in p for p in header["problems"])
    assert header["tensors"] == {}


def test_missing_file_is_reported_not_raised_by_read_model_header(tmp_path: Path) -> None:
    header = read_model_header(tmp_path / "absent.pt")
    assert header["problems"] and "cannot read" in header["problems"][0]
    with pytest.raises(ModelFileError, match="absent.pt"):
        load_model_file(tmp_path / "absent.pt")


# -- atomic writes -----------------------------------------------------------------------------------


def _fail_after_partial_write(tensors, filename, metadata=None):
    Path(filename).write_bytes(b"partial garbage")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failing", ["save_file", "replace"])
def test_failed_write_keeps_previous_file_and_removes_temp_file(
    good_file: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    before = good_file.read_bytes()
    if failing == "save_file":
        monkeypatch.setattr(safetensors.torch, "save_file", _fail_after_partial_write)
    else:

        def refuse(src, dst):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(model_file_module.os, "replace", refuse)
    with pytest.raises(OSError):
        save_model_file(good_file, {"class": "Other"}, {"w": torch.zeros(3)})
    monkeypatch.undo()
    assert sorted(p.name for p in good_file.parent.iterdir()) == [good_file.name]
    assert good_file.read_bytes() == before
    config, _ = load_model_file(good_file)
    assert config == CONFIG


def test_overwrite_replaces_previous_file(good_file: Path) -> None:
    save_model_file(good_file, {"class": "Other"}, {"w": torch.zeros(3)})
    config, tensors = load_model_file(good_file)
    assert config == {"class": "Other"} and list(tensors) == ["w"]
    assert sorted(p.name for p in good_file.parent.iterdir()) == [good_file.name]


# -- the class allow-list ----------------------------------------------------------------------------


def test_registry_resolves_registered_classes_only() -> None:
    @register_model_class
    class RegistryProbeModel:
        pass

    assert get_model_class("RegistryProbeModel") is RegistryProbeModel
    assert registered_model_classes()["RegistryProbeModel"] is RegistryProbeModel
    with pytest.raises(
        ModelFileError, match=r"unknown model class 'os\.system'; known: .*RegistryProbeModel"
    ):
        get_model_class("os.system")
    with pytest.raises(ModelFileError, match="unknown model class 'NotAModel'"):
        get_model_class("NotAModel")
    with pytest.raises(ModelFileError, match="names no model class"):
        get_model_class("")


def test_registry_refuses_a_second_class_with_the_same_name() -> None:
    def make():
        class ClashingProbeModel:
            pass

        return ClashingProbeModel

    first = register_model_class(make())
    assert register_model_class(first) is first  # registering the same class again is harmless
    namespace: dict = {}
    exec("class ClashingProbeModel:\n    pass\n", namespace)
    with pytest.raises(PolytagError, match="already registered"):
        register_model_class(namespace["ClashingProbeModel"])
