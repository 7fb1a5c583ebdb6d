"""Robustness rows for training configs (issue 14, points 7 and 14a).

    python bench/robustness_config.py [--workdir DIR]

- point 7: a 537-byte "billion laughs" YAML config (9 levels of 9 aliases) and a 10,000-deep nesting
  are loaded in a child process capped at 1 GiB of address space; each must end in a ConfigError that
  names the file and line, not a MemoryError or a RecursionError;
- point 14 (14a): a model is built from a config whose corpus lies in the config's folder and whose
  encoder lies outside it, saved, and given its training config as ``polytag train`` does; the model
  file must contain neither the work folder nor any other absolute path.

``run(workdir)`` returns one row per point for bench/robustness.py; exit code 1 when a row is not ok.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MEMORY_LIMIT_MB = 1024

_LOAD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit} << 20, {limit} << 20))
from polytag.config import ConfigError, load_config
try:
    load_config(sys.argv[1])
except ConfigError as exc:
    print("ConfigError:", exc)
else:
    print("loaded")
"""


def _load_capped(path: Path) -> tuple[bool, str]:
    """Load ``path`` in a child capped at ``MEMORY_LIMIT_MB``: (refused with a ConfigError+line, what)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOAD.format(limit=MEMORY_LIMIT_MB), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    said = ((done.stdout.strip() or done.stderr.strip()).splitlines() or ["nothing"])[-1]
    said = said.replace(str(path.parent) + os.sep, "")
    refused = done.returncode == 0 and said.startswith("ConfigError:") and ", line " in said
    return refused, said if done.returncode == 0 else f"exit {done.returncode}: {said}"


def yaml_bounds(workdir: Path) -> dict[str, Any]:
    """Point 7: alias expansion and nesting depth of a YAML config are bounded."""
    from tests.test_config_bounds import billion_laughs, deep_nesting

    workdir.mkdir(parents=True, exist_ok=True)
    laughs = workdir / "laughs.yaml"
    laughs.write_text(billion_laughs(), encoding="utf-8")
    deep = workdir / "deep.yaml"
    deep.write_text(deep_nesting(10_000), encoding="utf-8")
    laughs_ok, laughs_said = _load_capped(laughs)
    deep_ok, deep_said = _load_capped(deep)
    return {
        "point": 7,
        "check": f"load a {laughs.stat().st_size}-byte billion-laughs config (9 levels of 9 aliases) and a "
        f"10,000-deep nesting, each under a {MEMORY_LIMIT_MB} MiB address-space limit",
        "expected": "a ConfigError naming the file and line for each (bounds: 100,000 values after "
        "alias expansion, 64 levels), no MemoryError or RecursionError",
        "observed": f"{laughs_said} | {deep_said}",
        "ok": laughs_ok and deep_ok,
    }


def model_file_paths(workdir: Path) -> dict[str, Any]:
    """Point 14a: the training config inside a model file holds no absolute local path."""
    import torch

    from polytag.config import build_corpora, build_model, embed_in_model, load_and_resolve
    from polytag.io import read_model_header
    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import write_corpora

    torch.set_num_threads(1)
    encoder_dir = build_tiny_encoder(workdir / "encoders" / "tiny-bert")
    project = workdir / "home" / "alice" / "project"
    write_corpora(project / "data", sizes=(8, 4, 4))
    config = project / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            output: runs/ner
            encoder: {{model: {encoder_dir}}}
            tasks:
              - {{id: ner, head: token, label_type: ner,
                 corpus: {{type: column, folder: data/tagged, columns: {{0: text, 2: ner}}}}}}
            """
        ),
        encoding="utf-8",
    )
    resolved = load_and_resolve(config)
    _, per_task = build_corpora(resolved)
    model_path = Path(resolved["output"]) / "final-model.pt"
    model_path.parent.mkdir(parents=True, exist_ok=True)
    build_model(resolved, per_task).save(model_path)
    embed_in_model(model_path, resolved, base_dir=project)
    inside = read_model_header(model_path)["config"]["training_config"]
    text = json.dumps(inside)
    leaked = [s for s in (str(workdir), "/home/", str(Path.home())) if s in text]
    paths = {
        "output": inside["output"],
        "corpus folder": inside["tasks"][0]["corpus"]["folder"],
        "encoder": inside["encoder"]["model"],
    }
    return {
        "point": 14,
        "check": "build and save a model from a config (corpus inside the config's folder, encoder outside), "
        "store its training config as polytag train does, read the file's header",
        "expected": "no absolute path in training_config: paths inside the config's folder relative, "
        "others <local>/<name>",
        "observed": ", ".join(f"{k}: {v}" for k, v in paths.items())
        + (f"; leaked {leaked}" if leaked else ""),
        "ok": not leaked
        and paths == {"output": "runs/ner", "corpus folder": "data/tagged", "encoder": "<local>/tiny-bert"},
    }


def run(workdir: Path) -> list[dict[str, Any]]:
    """One row per issue-14 point the config package fixes (7 and 14a)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return [yaml_bounds(workdir / "yaml"), model_file_paths(workdir / "model-file")]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as own:
        rows = run(args.workdir or Path(own))
    for row in rows:
        print(json.dumps(row, indent=2))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
