"""The format registry is the one list of formats, and the package keeps its layering and module rules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from polytag.cli.inputs import detect_format, input_formats, predict_input_choices, predict_output_choices
from polytag.cli.predict import WRITERS, output_format
from polytag.formats import registry
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.registry import (
    UnknownFormatError,
    format_for_extension,
    format_for_path,
    format_names,
    get_format,
)

PACKAGE = Path(__file__).resolve().parents[1] / "polytag"
FORMAT_MODULES = {
    "column": "polytag.formats.column",
    "conllu": "polytag.formats.conllu",
    "jsonl": "polytag.formats.jsonl",
    "fasttext": "polytag.formats.fasttext",
    "csv": "polytag.formats.csv_format",
}


def test_each_format_registers_one_record_kept_in_its_own_module() -> None:
    assert format_names() == tuple(FORMAT_MODULES)
    for name, module in FORMAT_MODULES.items():
        spec = importlib.import_module(module).FORMAT
        assert get_format(name) is spec and spec.name == name
        assert spec.read.__module__ == module  # the record sits beside its reader
        assert spec.index is None or issubclass(spec.index, IndexedSentenceFile)
        assert all(ext.startswith(".") and ext == ext.lower() for ext in spec.extensions)
    assert get_format("column").index.__name__ == "IndexedColumnFile"
    assert get_format("fasttext").stream is None and get_format("csv").index is None


def test_unknown_names_and_extensions() -> None:
    with pytest.raises(UnknownFormatError, match="unknown format 'xml'; known formats: column, conllu"):
        get_format("xml")
    assert format_for_path("notes.txt") is None and format_for_path("noext") is None
    assert format_for_path("train.CONLLU").name == "conllu"
    assert format_for_path("data.iob2.gz") is not None  # the last known suffix wins
    assert format_for_extension(".NDJSON").name == "jsonl"


def test_the_cli_reads_the_registry() -> None:
    streamable = [spec.name for spec in registry.formats() if spec.stream is not None]
    assert input_formats() == ("text", *streamable)
    assert predict_input_choices() == ("auto", "text", *streamable, "html")
    for spec in registry.formats():
        for ext in spec.extensions:
            # an extension detects its format where the command can stream it, plain text otherwise
            assert detect_format(f"x{ext}") == (spec.name if spec.stream else "text")
            assert output_format(f"out{ext}", None) == (spec.name if spec.name in WRITERS else "jsonl")
    assert set(WRITERS) - set(format_names()) == {"html"}
    assert predict_output_choices() == tuple(WRITERS)
    assert output_format("out.bio", None) == "column" and output_format("out.txt", None) == "column"


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_a_private_name_from_another_module() -> None:
    shims = {"polytag.formats._io"}  # an old module name kept for callers outside formats
    bad = []
    for path in _modules(PACKAGE / "formats") + _modules(PACKAGE / "data") + [PACKAGE / "cli" / "inputs.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polytag"):
                if node.module in shims and path.name == "_io.py":
                    continue
                private_module = any(part.startswith("_") for part in node.module.split("."))
                names = [a.name for a in node.names if a.name.startswith("_")]
                if private_module or names:
                    bad.append(f"{path.relative_to(PACKAGE)}: from {node.module} import {names or '...'}")
    assert not bad, "\n".join(bad)


def test_the_data_layer_imports_no_upper_layer_and_modules_stay_small() -> None:
    for path in _modules(PACKAGE / "data"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
                for name in names:
                    assert not name.startswith("polytag.") or name.startswith(
                        ("polytag.data", "polytag.errors")
                    ), f"{path.name} imports {name}"
    for path in _modules(PACKAGE / "formats") + _modules(PACKAGE / "data"):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 600, f"{path.relative_to(PACKAGE)} has {lines} lines"
