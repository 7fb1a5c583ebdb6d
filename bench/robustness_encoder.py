"""Robustness rows for the encoder part of model files (issue 14, points 1, 5 and 11).

    python bench/robustness_encoder.py [--workdir DIR]

``run(workdir)`` builds a tiny model, damages the embedding config of copies of its file the way a
hostile file would, and returns one row per point: ``{"point", "check", "expected", "observed", "ok"}``.

* 1: tokenizer files that carry ``evil.py`` and an ``auto_map`` naming it, loaded by ``Model.load``,
  ``polytag info`` and ``polytag predict`` in subprocesses with "y" on stdin (transformers' prompt);
* 5: a 1e8-word vocabulary through ``Model.load``, and a 16 M-word one checked against the file's header
  (2 GB if built), both under a memory limit 1 GB above the process's size; ``model_max_length`` 1e9;
* 11: a tokenizer file named "", invalid base64, ``tokenizer_files`` as a list, ``hidden_size: "abc"``
  and every other malformed value of ``tests/test_encoder_trust.MALFORMED``.

Exit status 1 unless every row is ok. Takes well under a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _refusal(path: Path) -> str:
    """``Model.load(path)``: "refused: <message>", "loaded" or "crash: <error>"."""
    from polytag.errors import ModelFileError
    from polytag.models.base import Model

    try:
        Model.load(path)
    except ModelFileError as error:
        return f"refused: {error}"
    except Exception as error:  # noqa: BLE001 - a crash is what the row reports
        return f"crash: {type(error).__name__}: {error}"
    return "loaded"


def no_code_runs(good: Path, workdir: Path) -> dict[str, Any]:
    """Point 1: evil tokenizer files, "y" on stdin, three ways in."""
    from tests.test_encoder_trust import evil_tokenizer_file, run_cli, run_python

    path, marker = evil_tokenizer_file(good, workdir, "tokenizer_config.json")
    fragment = "'evil.py' is not an allowed tokenizer file"
    load = run_python(
        f"from polytag.models.base import Model\ntry:\n    Model.load({str(path)!r})\n"
        "except Exception as error:\n    print(type(error).__name__, error)"
    )
    info = run_cli("info", str(path), stdin="y\n")
    predict = run_cli("predict", str(path), "-", stdin="y\nJohn lives in Berlin.\n")
    observed = {
        "Model.load": load.stdout.strip()[:120],
        "info": f"exit {info.returncode}",
        "predict": f"exit {predict.returncode}: {predict.stderr.strip()[:120]}",
        "evil.py ran": marker.exists(),
    }
    ok = (
        not marker.exists()
        and load.stdout.startswith("ModelFileError") and fragment in load.stdout
        and info.returncode == 1 and fragment in info.stdout
        and predict.returncode != 0 and fragment in predict.stderr and "Traceback" not in predict.stderr
    )  # fmt: skip
    return {
        "point": 1,
        "check": "tokenizer files with evil.py + auto_map, 'y' on stdin: Model.load, polytag info, "
        "polytag predict",
        "expected": "nothing runs (no marker file); ModelFileError naming the entry; the CLI exits non-zero "
        "with a one-line error",
        "observed": json.dumps(observed),
        "ok": ok,
    }


def bounded_memory(good: Path, workdir: Path) -> dict[str, Any]:
    """Point 5: huge declared sizes under a memory limit, and a window over the position table."""
    from tests.test_encoder_trust import _set, edit_encoder_config, run_python

    huge = edit_encoder_config(good, workdir / "vocab-1e8.pt", _set("encoder_config.vocab_size", 10**8))
    long_window = edit_encoder_config(good, workdir / "window-1e9.pt", _set("model_max_length", 10**9))
    code = textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from polytag.embeddings import TransformerEmbeddings
        from polytag.errors import ModelFileError
        from polytag.models.base import Model
        from tests.test_encoder_trust import first_embedding_config, header_shapes
        good = Path({str(good)!r})
        config, shapes = first_embedding_config(good), header_shapes(good)
        config["encoder_config"]["vocab_size"] = 16_000_000
        size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + 1_000_000_000, resource.RLIM_INFINITY))
        attempts = (
            lambda: Model.load({str(huge)!r}),
            lambda: TransformerEmbeddings.from_config(config, shapes),
        )
        for attempt in attempts:
            try:
                attempt()
                print("loaded")
            except ModelFileError as error:
                print("ModelFileError", error)
            except BaseException as error:
                print("crash", type(error).__name__)
    """)
    result = run_python(code)
    lines = result.stdout.splitlines() or [result.stderr.strip()[-200:]]
    window = _refusal(long_window)
    ok = (
        len(lines) == 2
        and all(line.startswith("ModelFileError") for line in lines)
        and window.startswith("refused") and "'model_max_length'" in window
    )  # fmt: skip
    return {
        "point": 5,
        "check": "vocab_size 1e8 (Model.load) and 16e6 (checked against the header) under RLIMIT_AS = "
        "process size + 1 GB; model_max_length 1e9",
        "expected": "ModelFileError naming the key / the tensor and both shapes, before any allocation; "
        "no MemoryError or RuntimeError",
        "observed": json.dumps([line[:140] for line in lines] + [window[:140]]),
        "ok": ok,
    }


def malformed_values(good: Path, workdir: Path) -> dict[str, Any]:
    """Point 11: every malformed embedding value is a one-line ModelFileError naming the key."""
    from tests.test_encoder_trust import hostile_encoder_files

    outcomes = {}
    bad = []
    for name, path, fragment in hostile_encoder_files(good, workdir / "malformed"):
        outcome = _refusal(path)
        outcomes[name] = outcome[:100]
        if not outcome.startswith("refused") or fragment not in outcome or "\n" in outcome:
            bad.append(name)
    return {
        "point": 11,
        "check": f"{len(outcomes)} malformed embedding configs (tokenizer file '', invalid base64, "
        "tokenizer_files a list, hidden_size 'abc', out-of-range settings, ...) through Model.load",
        "expected": "a one-line ModelFileError naming the key, never a traceback",
        "observed": f"{len(outcomes) - len(bad)}/{len(outcomes)} as expected"
        + (f"; not: {bad}" if bad else ""),
        "ok": not bad,
    }


def run(workdir: Path) -> list[dict[str, Any]]:
    """One row per issue-14 point the encoder fixes (see the module docstring)."""
    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import build_model

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    good = workdir / "good-model.pt"
    build_model(build_tiny_encoder(workdir / "tiny-encoder"), tasks=("ner",)).save(good)
    return [no_code_runs(good, workdir), bounded_memory(good, workdir), malformed_values(good, workdir)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.workdir or Path(tmp))
    for row in rows:
        print(f"point {row['point']:>2}  {'ok  ' if row['ok'] else 'FAIL'}  {row['check']}")
        print(f"          expected: {row['expected']}")
        print(f"          observed: {row['observed']}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
