"""Hostile configs: YAML aliases and nesting are bounded; model files carry no local paths (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from polytag.config import (
    MAX_DEPTH,
    MAX_NODES,
    ConfigError,
    embed_in_model,
    load_and_resolve,
    load_config,
    load_config_text,
    parse_override,
    portable_config,
)
from polytag.config.saving import portable_path
from polytag.io import read_model_header, save_model_file
from tests.test_cli_support import write_corpora

ROOT = Path(__file__).resolve().parents[1]


def billion_laughs(levels: int = 9, fan_out: int = 9) -> str:
    """``levels`` anchors, each a list of ``fan_out`` aliases of the one before: fan_out**levels values."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * fan_out) + "]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def deep_nesting(depth: int = 10_000) -> str:
    return "tasks: " + "[" * depth + "]" * depth + "\n"


def _load_under_memory_limit(path: Path, limit_mb: int = 1024) -> subprocess.CompletedProcess[str]:
    """``load_config(path)`` in a child process whose address space is capped at ``limit_mb``."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} << 20, {limit_mb} << 20))
        from polytag.config import ConfigError, load_config
        try:
            load_config(sys.argv[1])
        except ConfigError as exc:
            print("ConfigError:", exc)
        else:
            print("loaded")
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_billion_laughs_is_refused_within_a_memory_limit(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    assert path.stat().st_size < 600  # the 537-byte file of the issue
    done = _load_under_memory_limit(path)
    assert done.returncode == 0, done.stderr[-2000:]
    # level f is the first whose expansion passes the bound (9**6 > 100,000): its line is named
    assert (
        f"laughs.yaml, line 6: too large: aliases expand the config to more than {MAX_NODES}" in done.stdout
    )


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_deep_nesting_is_a_config_error_with_a_line(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("output: run\n" + deep_nesting(), encoding="utf-8")
    done = _load_under_memory_limit(path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"deep.yaml, line 2: too large: values nest deeper than {MAX_DEPTH} levels" in done.stdout
    assert "RecursionError" not in done.stdout + done.stderr


def test_aliases_within_the_bound_still_work_and_keep_lines():
    text = textwrap.dedent(
        """\
        defaults: &opts {dropout: 0.1}
        tasks:
          - options: *opts
          - options: *opts
            extra: 1
        """
    )
    data, source = load_config_text(text)
    assert data["tasks"][0]["options"] == {"dropout": 0.1} == data["tasks"][1]["options"]
    assert source.lines[("tasks", 1, "extra")] == 5
    assert source.lines[("tasks", 0, "options", "dropout")] == 1  # the anchor's line


def test_alias_chains_and_recursive_aliases_are_bounded():
    # each alias adds a level: the expansion nests deeper than the file does
    chain = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, MAX_DEPTH + 2)]
    with pytest.raises(ConfigError, match=f"nest deeper than {MAX_DEPTH}"):
        load_config_text("\n".join(chain))
    with pytest.raises(ConfigError, match="nest deeper") as info:
        load_config_text("a: &a [*a]\n")  # a list that contains itself
    assert info.value.line == 1
    # exactly at the bound is fine
    load_config_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n")


def test_overrides_are_bounded_too(tmp_path):
    with pytest.raises(ConfigError, match="--set.*too large: aliases expand"):
        parse_override("trainer.x=" + billion_laughs().replace("\n", ", ").join("{}"))
    with pytest.raises(ConfigError, match="--set.*nest deeper"):
        parse_override("trainer.x=" + "[" * 10_000 + "]" * 10_000)
    with pytest.raises(ConfigError, match="keys nest deeper"):
        parse_override("a" + ".a" * 10_000 + "=1")
    path = tmp_path / "c.yaml"
    path.write_text("tasks: []\n", encoding="utf-8")
    config, _ = load_config(path, ["trainer.max_epochs=3"])
    assert config["trainer"] == {"max_epochs": 3}


# -- 14a: the config stored inside a model file ------------------------------------------------------------


def test_portable_paths():
    base = Path("/home/alice/project")
    assert portable_path("/home/alice/project/data/train.txt", base) == "data/train.txt"
    assert portable_path("/home/alice/project", base) == "."
    assert portable_path("/home/alice/corpora/wiki.txt", base) == "<local>/wiki.txt"
    assert portable_path("/home/alice/corpora/wiki.txt", None) == "<local>/wiki.txt"
    assert portable_path("C:\\Users\\alice\\model", base) == "<local>/model"
    assert portable_path("~/models/bert", base) == "<local>/bert"
    assert (
        portable_path("sentence-transformers/all-MiniLM-L6-v2", base)
        == "sentence-transformers/all-MiniLM-L6-v2"
    )
    assert portable_config({"a": ["/x/y", 3, "z"], "b": None}) == {"a": ["<local>/y", 3, "z"], "b": None}


def test_model_file_stores_no_local_paths(tmp_path):
    project = tmp_path / "alice" / "project"
    write_corpora(project / "data")
    (project / "config.yaml").write_text(
        textwrap.dedent(
            """\
            output: runs/ner
            encoder: {model: /home/alice/models/tiny-bert}
            tasks:
              - {id: ner, head: token, label_type: ner,
                 corpus: {type: column, folder: data/tagged, columns: {0: text, 2: ner}}}
            """
        ),
        encoding="utf-8",
    )
    resolved = load_and_resolve(project / "config.yaml")
    assert resolved["corpora"] == {} and resolved["tasks"][0]["corpus"]["folder"].startswith(str(tmp_path))
    model = tmp_path / "model.pt"
    save_model_file(model, {"model_class": "TokenClassifier"}, {"w": torch.zeros(2)})
    embed_in_model(model, resolved, base_dir=project)
    inside = read_model_header(model)["config"]["training_config"]
    text = json.dumps(inside)
    assert str(tmp_path) not in text and "/home/alice" not in text
    assert inside["output"] == "runs/ner"
    assert inside["tasks"][0]["corpus"]["folder"] == "data/tagged"
    assert inside["encoder"]["model"] == "<local>/tiny-bert"
    # the portable copy is still a valid config, read relative to the project folder
    again = yaml.safe_load(yaml.safe_dump(inside))
    again.pop("encoder")
    (project / "again.yaml").write_text(yaml.safe_dump(again), encoding="utf-8")
    assert load_and_resolve(project / "again.yaml")["tasks"] == resolved["tasks"]
