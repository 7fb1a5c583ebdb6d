"""Untrusted model files: every kind of damage is refused with a clear ModelFileError before any weight is
used, nothing is ever unpickled, and ``polytag info`` describes the damage instead of failing.

``damaged_model_files`` builds the damaged variants of a sound file; ``bench/robustness.py`` uses the same
list for its table.
"""

from __future__ import annotations

import json
import pickle
import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from polytag.cli.info import describe, run_info
from polytag.errors import ModelFileError
from polytag.io import FORMAT_VERSION, check_model_config, load_model_file, read_model_header


# -- building damaged files ---------------------------------------------------------------------------
def split_file(path: Path) -> tuple[dict, bytes]:
    """(header dict, tensor bytes) of a safetensors file."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def _deep_json(text: str) -> str:
    """``text`` with its ``"__deep__": N`` entry replaced by arrays nested N deep."""
    marker = '"__deep__": '
    if marker not in text:
        return text
    start = text.index(marker) + len(marker)
    end = start
    while text[end].isdigit():
        end += 1
    depth = int(text[start:end])
    return text[:start] + "[" * depth + "]" * depth + text[end:]


def join_file(path: Path, header: dict, data: bytes) -> Path:
    text = _deep_json(json.dumps(header)).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def _edit_config(edit: Callable[[dict], None]) -> Callable[[dict, bytes], tuple[dict, bytes]]:
    def change(header: dict, data: bytes) -> tuple[dict, bytes]:
        config = json.loads(header["__metadata__"]["config"])
        edit(config)
        header["__metadata__"]["config"] = _deep_json(json.dumps(config))
        return header, data

    return change


def _edit_metadata(**values: str | None) -> Callable[[dict, bytes], tuple[dict, bytes]]:
    def change(header: dict, data: bytes) -> tuple[dict, bytes]:
        for key, value in values.items():
            if value is None:
                header["__metadata__"].pop(key, None)
            else:
                header["__metadata__"][key] = value
        return header, data

    return change


def _largest_matrix(header: dict) -> str:
    return max(
        (n for n, e in header.items() if n != "__metadata__" and len(e["shape"]) == 2),
        key=lambda n: header[n]["data_offsets"][1] - header[n]["data_offsets"][0],
    )


def _transpose_one(header: dict, data: bytes) -> tuple[dict, bytes]:
    """A tensor whose shape is wrong for the model but consistent with its bytes."""
    name = next(n for n, e in header.items() if n != "__metadata__" and len(e["shape"]) == 2)
    rows, cols = header[name]["shape"]
    header[name]["shape"] = [cols, rows] if rows != cols else [rows * 2, cols // 2]
    return header, data


def _drop_last_tensor(header: dict, data: bytes) -> tuple[dict, bytes]:
    """A tensor missing from an otherwise consistent file (its bytes removed too)."""
    name = max((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][1])
    begin, end = header.pop(name)["data_offsets"]
    assert end == len(data)
    return header, data[:begin]


def _add_tensor(header: dict, data: bytes) -> tuple[dict, bytes]:
    header["injected.weight"] = {"dtype": "F32", "shape": [2], "data_offsets": [len(data), len(data) + 8]}
    return header, data + b"\0" * 8


def _overlap(header: dict, data: bytes) -> tuple[dict, bytes]:
    name = _largest_matrix(header)
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [max(0, begin - 4), end - 4]
    return header, data


def _bad_dtype(header: dict, data: bytes) -> tuple[dict, bytes]:
    header[_largest_matrix(header)]["dtype"] = "OBJECT"
    return header, data


def _unknown_class(config: dict) -> None:
    config["class"] = "os.system"


def _unknown_task_class(config: dict) -> None:
    config["model"]["tasks"][-1]["class"] = "subprocess.Popen"


def _bigger_encoder(config: dict) -> None:
    encoder = next(iter(config["embeddings"].values()))["encoder_config"]
    encoder["hidden_size"] *= 2
    encoder["intermediate_size"] *= 2


DEEP = 100_000  # far deeper than json.loads can recurse


def _deep_header(header: dict, data: bytes) -> tuple[dict, bytes]:
    """A header that is valid JSON but nests so deep that parsing it recursively overflows."""
    header["__deep__"] = DEEP  # join_file writes the nesting (json.dumps cannot)
    return header, data


def _deep_config(config: dict) -> None:
    config["__deep__"] = DEEP


def _huge_vocabulary(config: dict) -> None:
    """Issue 14 point 5: a config asking for a 1e8-row embedding table (153 GB on a real encoder)."""
    next(iter(config["embeddings"].values()))["encoder_config"]["vocab_size"] = 100_000_000


def _many_labels(config: dict) -> None:
    """A head whose label dictionary asks for a decoder far larger than the one in the file."""
    head = config["model"]["tasks"][0]["model"]
    head["label_dictionary"]["items"] = [f"L{i}" for i in range(50_000)]


def _nested_empty_multitask(config: dict) -> None:
    config["model"]["tasks"][-1] = {"task_id": "inner", "class": "MultitaskModel", "model": {"tasks": []}}


def _label_dictionary_not_an_object(config: dict) -> None:
    config["model"]["tasks"][0]["model"]["label_dictionary"] = 5


def _encoder_width_not_a_number(config: dict) -> None:
    next(iter(config["embeddings"].values()))["encoder_config"]["hidden_size"] = "wide"


# name -> (how to damage the sound file, a fragment the error message must contain)
HEADER_EDITS: dict[str, tuple[Callable[[dict, bytes], tuple[dict, bytes]], str]] = {
    "newer format version": (
        _edit_metadata(format_version=str(FORMAT_VERSION + 1)),
        f"written by a newer polytag (format {FORMAT_VERSION + 1}; this one reads up to {FORMAT_VERSION})",
    ),
    "format version not a number": (_edit_metadata(format_version="one"), "not an integer"),
    "not written by polytag": (_edit_metadata(format="numpy"), "not written by polytag"),
    "config not JSON": (_edit_metadata(config="{'class': oops"), "not valid JSON"),
    "aliases point nowhere": (_edit_metadata(aliases='{"a.b": "nowhere"}'), "not stored in the file"),
    "unknown model class": (_edit_config(_unknown_class), "unknown model class 'os.system'"),
    "unknown task class": (_edit_config(_unknown_task_class), "unknown model class 'subprocess.Popen'"),
    "tensor of the wrong shape": (_transpose_one, "has shape"),
    "tensor missing": (_drop_last_tensor, "missing tensor"),
    "unexpected extra tensor": (_add_tensor, "unexpected tensors"),
    "config larger than its weights": (_edit_config(_bigger_encoder), "has shape"),
    "overlapping tensors": (_overlap, "overlaps"),
    "unsupported dtype": (_bad_dtype, "unsupported dtype 'OBJECT'"),
    # issue 14 point 11: deep JSON is refused, not a RecursionError traceback
    "header nested too deep": (_deep_header, "nests deeper than the 64 levels allowed"),
    "config nested too deep": (_edit_config(_deep_config), "nests deeper than the 64 levels allowed"),
    # issue 14 point 5: sizes in the config are bounded, then checked against the header, before anything
    # is allocated (a vocabulary within the bound but unlike the header: tests/test_encoder_trust.py)
    "encoder vocabulary of 1e8": (
        _edit_config(_huge_vocabulary),
        "'encoder_config.vocab_size': expected an integer in [1, 16777216], got 100000000",
    ),
    "label dictionary larger than its decoder": (_edit_config(_many_labels), "has shape"),
    # issue 14 point 11: configs that cannot be built are a ModelFileError naming the file
    "nested empty multitask model": (
        _edit_config(_nested_empty_multitask),
        "cannot be a task of a MultitaskModel",
    ),
    "label dictionary not an object": (
        _edit_config(_label_dictionary_not_an_object),
        "cannot build the model its config describes",
    ),
    "encoder width not a number": (
        _edit_config(_encoder_width_not_a_number),
        "'encoder_config.hidden_size': expected an integer",
    ),
}


def damaged_model_files(good: Path, folder: Path) -> list[tuple[str, Path, str]]:
    """(case name, damaged file, fragment of the expected message) for every kind of damage we refuse."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = good.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    cases: list[tuple[str, bytes, str]] = [
        ("empty file", b"", "only 0 bytes"),
        ("pickle (torch.save)", b"", "never unpickles"),
        ("raw pickle", pickle.dumps({"weights": [1.0]}, protocol=4), "never unpickles"),
        ("header length larger than the file", struct.pack("<Q", len(raw)) + raw[8:], "more than the"),
        ("header length absurd", struct.pack("<Q", 2**62) + raw[8:], "larger than"),
        ("truncated in the header", raw[: 8 + header_size // 2], "truncated"),
        ("truncated after the header", raw[: 8 + header_size], "truncated"),
        ("truncated in the data", raw[: (8 + header_size + len(raw)) // 2], "truncated"),
        ("one byte short", raw[:-1], "truncated"),
        ("extra bytes at the end", raw + b"\0" * 7, "extra bytes"),
        ("header not JSON", raw[:8] + b"[" + raw[9:], "not a JSON object"),
    ]
    made = []
    for name, content, fragment in cases:
        path = folder / (name.replace(" ", "-").replace("(", "").replace(")", "").replace(".", "") + ".pt")
        if name == "pickle (torch.save)":
            torch.save({"w": torch.ones(2)}, path)
        else:
            path.write_bytes(content)
        made.append((name, path, fragment))
    for name, (edit, fragment) in HEADER_EDITS.items():
        header, data = split_file(good)
        header, data = edit(header, data)
        made.append((name, join_file(folder / (name.replace(" ", "-") + ".pt"), header, data), fragment))
    return made


def load_refusal(path: Path) -> tuple[str, str]:
    """How ``Model.load`` treats ``path``: ("refused", message), ("loaded", "") or ("crash", error)."""
    from polytag.models.base import Model

    try:
        Model.load(path)
    except ModelFileError as error:
        return "refused", str(error)
    except Exception as error:  # noqa: BLE001 - anything else is a crash the caller reports
        return "crash", f"{type(error).__name__}: {error}"
    return "loaded", ""


# -- tests ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_model(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_cli_support import build_model

    path = tmp_path_factory.mktemp("untrusted") / "final-model.pt"
    build_model(tiny_encoder_dir, tasks=("ner", "pos")).save(path)
    return path


@pytest.fixture(scope="module")
def damaged(good_model: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, str]]:
    return damaged_model_files(good_model, tmp_path_factory.mktemp("damaged"))


def test_the_sound_file_loads_and_info_verifies_it(good_model: Path, capsys: pytest.CaptureFixture) -> None:
    assert load_refusal(good_model) == ("loaded", "")
    assert run_info(good_model) == 0
    assert "every tensor fits" in capsys.readouterr().out


def test_every_damaged_file_is_refused_with_a_clear_message(damaged: list[tuple[str, Path, str]]) -> None:
    outcomes = {name: load_refusal(path) for name, path, _ in damaged}
    for name, path, fragment in damaged:
        outcome, message = outcomes[name]
        assert outcome == "refused", f"{name}: {outcome} {message}"
        assert fragment in message, f"{name}: {message}"
        if "class" not in name:  # Model.load reports an unknown class without the path (see below)
            assert str(path) in message, f"{name}: the message does not name the file: {message}"


def test_load_model_file_can_check_the_config_and_names_the_file(
    damaged: list[tuple[str, Path, str]],
) -> None:
    by_name = {name: (path, fragment) for name, path, fragment in damaged}
    for case in ("unknown model class", "unknown task class"):
        path, fragment = by_name[case]
        load_model_file(path)  # a plain tensor container: the config is not its business
        with pytest.raises(ModelFileError) as error:
            load_model_file(path, check_config=True)
        assert str(path) in str(error.value) and fragment in str(error.value)


def test_info_describes_every_damaged_file(
    damaged: list[tuple[str, Path, str]], capsys: pytest.CaptureFixture
) -> None:
    for name, path, fragment in damaged:
        assert run_info(path) == 1, name
        out = capsys.readouterr().out
        assert "PROBLEMS:" in out and fragment in out, f"{name}: {out}"
        assert out.startswith(f"file:        {path}"), name
    # a file whose header is sound apart from the damage still shows what the header tells
    by_name = {name: path for name, path, _ in damaged}
    facts = describe(by_name["newer format version"])
    assert facts["format_version"] == FORMAT_VERSION + 1 and facts["class"] == "MultitaskModel"
    facts = describe(by_name["one byte short"])
    assert [t["task"] for t in facts["tasks"]] == ["ner", "pos"] and facts["encoders"]["0"][
        "hidden_size"
    ] == 32


def test_no_pickle_is_ever_opened(
    damaged: list[tuple[str, Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model file was unpickled")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    for name, path, _ in damaged:
        assert load_refusal(path)[0] == "refused", name


def test_files_from_before_format_versions_read_as_version_1(good_model: Path, tmp_path: Path) -> None:
    header, data = split_file(good_model)
    del header["__metadata__"]["format_version"]
    old = join_file(tmp_path / "old.pt", header, data)
    assert read_model_header(old)["format_version"] == 1
    config, tensors = load_model_file(old)
    assert config["class"] == "MultitaskModel" and tensors
    assert load_refusal(old) == ("loaded", "")


def test_check_model_config_names_each_structural_problem() -> None:
    assert (
        check_model_config(
            {"class": "TokenClassifier", "model": {"embeddings": "0"}, "embeddings": {"0": {}}}
        )
        == []
    )
    assert "not a JSON object" in check_model_config([1])[0]
    problems = check_model_config({"class": "TokenClassifier", "model": 5, "embeddings": {"0": 1}})
    assert any("'embeddings' is not an object" in p for p in problems)
    assert any("model config is missing" in p for p in problems)
    problems = check_model_config(
        {"class": "TokenClassifier", "model": {"embeddings": "9"}, "embeddings": {}}
    )
    assert problems == ["the model: names encoder '9', which the config does not define"]
    problems = check_model_config({"class": "MultitaskModel", "model": {"tasks": []}})
    assert problems == ["the multitask config has no list of 'tasks'"]
    problems = check_model_config({"class": "builtins.eval", "model": {}})
    assert len(problems) == 1 and "unknown model class 'builtins.eval'" in problems[0]


def test_random_corruption_never_escapes_as_another_error(good_model: Path, tmp_path: Path) -> None:
    """Cut or overwrite bytes at random places: the file loads, or fails with ModelFileError; info never
    raises. (Flips inside the tensor data change weights without any structural damage, so they load.)"""
    raw = good_model.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    rng = random.Random(0)
    path = tmp_path / "fuzzed.pt"
    for trial in range(60):
        data = bytearray(raw)
        kind = trial % 3
        if kind == 0:
            data = data[: rng.randrange(len(data))]
        elif kind == 1:  # damage the header (length field or JSON)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(8 + header_size)] = rng.randrange(256)
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        path.write_bytes(bytes(data))
        try:
            load_model_file(path)
        except ModelFileError as error:
            assert str(path) in str(error)
        facts = describe(path)  # header only; must not raise
        assert isinstance(facts["problems"], list)
        if kind != 1:
            assert facts["problems"], f"trial {trial}: damage not reported"
