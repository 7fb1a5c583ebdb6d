"""A model file's encoder part runs no code and allocates only what its tensors declare (issue 14: 1, 5, 11).

Hostile files are built by editing the embedding config of a saved tiny model. ``hostile_encoder_files``
is shared with ``bench/robustness_encoder.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from polytag.embeddings import TransformerEmbeddings
from polytag.errors import ModelFileError
from polytag.io import read_model_header
from tests.test_untrusted_model_files import join_file, split_file

ROOT = Path(__file__).resolve().parents[1]
EVIL_CODE = """
from pathlib import Path
from transformers import BertConfig

Path({marker!r}).write_text("evil.py ran")


class EvilConfig(BertConfig):
    model_type = "bert"


EvilTokenizer = None
"""


def edit_encoder_config(good: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    """A copy of ``good`` whose first embedding config went through ``edit``."""
    header, data = split_file(good)
    config = json.loads(header["__metadata__"]["config"])
    edit(next(iter(config["embeddings"].values())))
    header["__metadata__"]["config"] = json.dumps(config)
    return join_file(target, header, data)


def evil_tokenizer_file(good: Path, folder: Path, where: str = "config.json") -> tuple[Path, Path]:
    """(model file, marker): the tokenizer files carry ``evil.py`` and an ``auto_map`` naming it.

    ``where`` is the JSON file that holds the ``auto_map``: a ``config.json`` next to the tokenizer files,
    or the real ``tokenizer_config.json``. Running evil.py writes the marker file.
    """
    marker = folder / f"evil-ran-{where}"
    auto_map = {
        "AutoConfig": "evil.EvilConfig",
        "AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"],
    }

    def edit(embedding: dict) -> None:
        files = embedding["tokenizer_files"]
        files["evil.py"] = EVIL_CODE.format(marker=str(marker))
        tokenizer_config = json.loads(files["tokenizer_config.json"])
        tokenizer_config.pop("tokenizer_class", None)  # so that transformers asks the config for it
        if where == "config.json":
            files["config.json"] = json.dumps({"model_type": "bert", "auto_map": auto_map})
        else:
            tokenizer_config["auto_map"] = auto_map
        files["tokenizer_config.json"] = json.dumps(tokenizer_config)

    return edit_encoder_config(good, folder / f"evil-{where}.pt", edit), marker


def header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the file's header (aliases take their target's shape)."""
    header = read_model_header(path)
    shapes = {name: tuple(entry["shape"]) for name, entry in header["tensors"].items()}
    for alias, target in (header.get("aliases") or {}).items():
        shapes[alias] = shapes[target]
    return shapes


def first_embedding_config(path: Path) -> dict:
    return next(iter(read_model_header(path)["config"]["embeddings"].values()))


def _set(path: str, value: object) -> Callable[[dict], None]:
    def edit(embedding: dict) -> None:
        *parents, last = path.split(".")
        target = embedding
        for parent in parents:
            target = target[parent]
        target[last] = value

    return edit


def _tokenizer_files_as_list(embedding: dict) -> None:
    embedding["tokenizer_files"] = list(embedding["tokenizer_files"].items())


def _empty_file_name(embedding: dict) -> None:
    embedding["tokenizer_files"][""] = "x"


def _bad_base64(embedding: dict) -> None:
    embedding["tokenizer_binary_files"] = {"spiece.model": "not base64 !!"}


def _auto_map_in(name: str, deep: bool) -> Callable[[dict], None]:
    def edit(embedding: dict) -> None:
        content = json.loads(embedding["tokenizer_files"].get(name, "{}"))
        code = {"auto_map": {"AutoTokenizer": ["x.Y", None]}}
        content.update({"extra": [code]} if deep else code)
        embedding["tokenizer_files"][name] = json.dumps(content)

    return edit


def _nested_file_name(embedding: dict) -> None:
    embedding["tokenizer_files"]["sub/tokenizer.json"] = "{}"


# name -> (edit of the embedding config, fragment the ModelFileError must contain)
MALFORMED: dict[str, tuple[Callable[[dict], None], str]] = {
    "tokenizer file named ''": (_empty_file_name, "tokenizer_files entry ''"),
    "tokenizer file in a folder": (_nested_file_name, "'sub/tokenizer.json' is not an allowed"),
    "auto_map in tokenizer_config.json": (
        _auto_map_in("tokenizer_config.json", deep=False),
        "'tokenizer_config.json' holds 'auto_map'",
    ),
    "auto_map nested in special_tokens_map.json": (
        _auto_map_in("special_tokens_map.json", deep=True),
        "'special_tokens_map.json' holds 'auto_map'",
    ),
    "invalid base64": (_bad_base64, "tokenizer_binary_files entry 'spiece.model' is not valid base64"),
    "tokenizer_files a list": (_tokenizer_files_as_list, "'tokenizer_files': expected an object"),
    "hidden_size 'abc'": (_set("encoder_config.hidden_size", "abc"), "'encoder_config.hidden_size'"),
    "vocab_size 1e8": (_set("encoder_config.vocab_size", 10**8), "'encoder_config.vocab_size'"),
    "model_type unknown": (_set("encoder_config.model_type", "evil"), "'encoder_config.model_type'"),
    "encoder_config a string": (_set("encoder_config", "bert"), "'encoder_config'"),
    "model_max_length 1e9": (_set("model_max_length", 10**9), "'model_max_length'"),
    "model_max_length over the positions": (_set("model_max_length", 513), "512 positions"),
    "window_stride 0": (_set("window_stride", 0), "'window_stride'"),
    "window_stride over the window": (_set("window_stride", 10_000), "window_stride must lie in"),
    "layers 'x'": (_set("layers", "x"), "'layers'"),
    "layer out of range": (_set("layers", "-7"), "layer -7 does not exist"),
    "subtoken_pooling unknown": (_set("subtoken_pooling", "median"), "'subtoken_pooling'"),
    "fine_tune a string": (_set("fine_tune", "yes"), "'fine_tune'"),
    "use_context negative": (_set("use_context", -1), "'use_context'"),
    "context_dropout 2": (_set("context_dropout", 2), "'context_dropout'"),
    "context_dropout NaN": (_set("context_dropout", float("nan")), "'context_dropout'"),
    "name a number": (_set("name", 5), "'name'"),
    "class a list": (_set("class", ["TransformerEmbeddings"]), "'class': expected a class name"),
    "no token nor document vectors": (
        lambda e: e.update(is_token_embedding=False, is_document_embedding=False),
        "token vectors, document vectors or both",
    ),
}


def hostile_encoder_files(good: Path, folder: Path) -> list[tuple[str, Path, str]]:
    """(case, file, fragment of the expected ModelFileError) for every malformed embedding config."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, (edit, fragment) in MALFORMED.items():
        slug = "".join(c if c.isalnum() else "-" for c in name)
        made.append((name, edit_encoder_config(good, folder / f"{slug}.pt", edit), fragment))
    return made


def run_python(code: str, stdin: str = "y\n", timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with this checkout on the path (stdin answers "y")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )


def run_cli(*args: str, stdin: str) -> subprocess.CompletedProcess:
    """``python -m polytag ARGS`` with ``stdin``."""
    code = (
        f"import runpy, sys; sys.argv = ['polytag', *{list(args)!r}]; "
        "runpy.run_module('polytag', run_name='__main__')"
    )
    return run_python(code, stdin=stdin)


# -- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_model(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_cli_support import build_model

    path = tmp_path_factory.mktemp("encoder-trust") / "model.pt"
    build_model(tiny_encoder_dir, tasks=("ner",)).save(path)
    return path


# -- point 1: no code from a model file ----------------------------------------------------------------
def test_saved_tokenizer_files_are_all_on_the_allow_list(good_model: Path) -> None:
    from polytag.embeddings import ALLOWED_TOKENIZER_FILES

    files = first_embedding_config(good_model)["tokenizer_files"]
    assert files and set(files) <= ALLOWED_TOKENIZER_FILES


def test_model_load_with_y_on_stdin_runs_no_code_from_the_file(good_model: Path, tmp_path: Path) -> None:
    for where in ("config.json", "tokenizer_config.json"):
        path, marker = evil_tokenizer_file(good_model, tmp_path, where)
        code = textwrap.dedent(f"""
            from polytag.errors import ModelFileError
            from polytag.models.base import Model
            try:
                Model.load({str(path)!r})
            except ModelFileError as error:
                print("REFUSED", error)
            else:
                print("LOADED")
        """)
        result = run_python(code)
        assert not marker.exists(), f"{where}: evil.py ran"
        assert "REFUSED" in result.stdout, result.stdout + result.stderr
        assert ("'config.json'" if where == "config.json" else "'evil.py'") in result.stdout, result.stdout
        assert "custom code" not in result.stdout + result.stderr  # transformers never even asked


def test_cli_info_and_predict_with_y_on_stdin_run_no_code(good_model: Path, tmp_path: Path) -> None:
    """The ``tokenizer_config.json`` variant ran evil.py before the allow-list (on "y" to transformers)."""
    expected = {
        "config.json": "'config.json' is not an allowed tokenizer file",
        "tokenizer_config.json": "'evil.py' is not an allowed tokenizer file",
    }
    for where, fragment in expected.items():
        path, marker = evil_tokenizer_file(good_model, tmp_path, where)
        info = run_cli("info", str(path), stdin="y\n")
        predict = run_cli("predict", str(path), "-", stdin="y\nJohn lives in Berlin.\n")
        assert not marker.exists(), f"{where}: evil.py ran"
        assert info.returncode == 1 and fragment in info.stdout, info
        assert predict.returncode != 0 and "Traceback" not in predict.stderr, predict.stderr
        errors = [line for line in predict.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and fragment in errors[0], errors


def _call_text(text: str, start: int) -> str:
    """The source of the call whose "(" is at ``start``, up to its matching ")"."""
    depth = 0
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            return text[start : end + 1]
    return text[start:]


def test_every_from_pretrained_in_the_package_refuses_remote_code() -> None:
    """Every transformers ``from_pretrained(...)`` / ``from_config(...)`` in polytag/ refuses remote code."""
    offenders = []
    calls = 0
    for file in sorted((ROOT / "polytag").rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        for needle in (
            "AutoTokenizer.from_pretrained(",
            "AutoModel.from_pretrained(",
            "AutoModel.from_config(",
        ):
            start = text.find(needle)
            while start >= 0:
                calls += 1
                call = _call_text(text, start + len(needle) - 1)
                if "trust_remote_code=False" not in call:
                    offenders.append(f"{file.relative_to(ROOT)}: {needle}{call}")
                start = text.find(needle, start + 1)
    assert calls >= 4 and offenders == []


# -- point 11: malformed values are ModelFileErrors naming the key --------------------------------------
def test_each_malformed_embedding_config_is_a_model_file_error_naming_the_key(
    good_model: Path, tmp_path: Path
) -> None:
    from polytag.models.base import Model

    for name, path, fragment in hostile_encoder_files(good_model, tmp_path):
        with pytest.raises(ModelFileError) as error:
            Model.load(path)
        assert fragment in str(error.value), f"{name}: {error.value}"
        assert "\n" not in str(error.value), name


def test_a_sound_config_still_loads_and_round_trips(good_model: Path) -> None:
    config = first_embedding_config(good_model)
    module = TransformerEmbeddings.from_config(config, header_shapes(good_model))
    again = module.to_config()
    assert {k: again[k] for k in config if k != "encoder_config"} == {
        k: config[k] for k in config if k != "encoder_config"
    }


# -- point 5: the encoder config must match the tensors before anything is allocated --------------------
def test_encoder_config_larger_than_its_tensors_is_refused_before_building(good_model: Path) -> None:
    config = first_embedding_config(good_model)
    config["encoder_config"]["vocab_size"] = 1_000_000
    with pytest.raises(
        ModelFileError, match=r"word_embeddings\.weight' has shape \(30522, 32\).*\(1000000, 32\)"
    ):
        TransformerEmbeddings.from_config(config, header_shapes(good_model))
    missing = {k: v for k, v in header_shapes(good_model).items() if "pooler" not in k}
    with pytest.raises(ModelFileError, match=r"pooler\.dense\.weight.*is not in the file"):
        TransformerEmbeddings.from_config(first_embedding_config(good_model), missing)


def test_huge_vocabulary_under_a_memory_limit_is_a_model_file_error(good_model: Path, tmp_path: Path) -> None:
    """Under a memory limit (1 GB above what the process holds): a 1e8-word vocabulary in a file is a
    ModelFileError from ``Model.load``, and 16 M x 32 floats (2 GB) is refused from the header alone."""
    huge = edit_encoder_config(good_model, tmp_path / "huge.pt", _set("encoder_config.vocab_size", 10**8))
    code = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from polytag.embeddings import TransformerEmbeddings
        from polytag.errors import ModelFileError
        from polytag.models.base import Model
        from tests.test_encoder_trust import first_embedding_config, header_shapes
        path = Path({str(good_model)!r})
        config = first_embedding_config(path)
        shapes = header_shapes(path)
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + 1_000_000_000, resource.RLIM_INFINITY))
        try:
            Model.load({str(huge)!r})
        except ModelFileError as error:
            print("REFUSED", error)
        config["encoder_config"]["vocab_size"] = 16_000_000
        try:
            TransformerEmbeddings.from_config(config, shapes)
        except ModelFileError as error:
            print("REFUSED", error)
    """)
    result = run_python(code)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("REFUSED") for line in lines), result
    assert "'encoder_config.vocab_size'" in lines[0] and "100000000" in lines[0]
    assert "(16000000, 32)" in lines[1] and "(30522, 32)" in lines[1]
