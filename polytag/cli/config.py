"""YAML training configs: the schema, its validation, ``--set`` overrides, and building what they describe.

A config names the encoder(s), the corpora, the tasks (head, label type, options), multitask sampling
and the trainer's options (see docs/config.md for the reference, ``polytag init-config`` for a
commented start). Validation is strict on purpose: an unknown or misspelt key is an error that names
the key, its line and the keys allowed there; a value of the wrong type is an error too. Every option
of the Python API is reachable: allowed keys and their types are read from the signatures of the
classes and methods the config drives (``ModelTrainer.fine_tune``, ``TransformerEmbeddings``, the head
classes, the corpus classes), so a new option there is a new key here.

Classes are chosen from fixed allow-lists (heads, named corpora, ``torch.optim`` optimizers); a config
can never make polytag import a module path.

Relative paths inside a config file are relative to the folder of that file; ``--output`` on the
command line is relative to the working directory. The *resolved* config (overrides applied, defaults
filled in, paths made absolute) is what ``polytag train`` saves next to the model and inside it.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from polytag.errors import FormatError

log = logging.getLogger("polytag")

CONFIG_FILE_NAME = "config.yaml"
MODEL_CONFIG_KEY = "training_config"

HEAD_ALIASES = {
    "token": "TokenClassifier",
    "token_classifier": "TokenClassifier",
    "tagger": "SequenceTagger",
    "sequence_tagger": "SequenceTagger",
    "crf": "SequenceTagger",
    "text": "TextClassifier",
    "text_classifier": "TextClassifier",
    "span": "SpanClassifier",
    "span_classifier": "SpanClassifier",
    "entity_linker": "SpanClassifier",
}
HEAD_CLASSES = ("TokenClassifier", "SequenceTagger", "TextClassifier", "SpanClassifier")
DOCUMENT_HEADS = ("TextClassifier",)

NAMED_CORPORA = (
    "UD_ENGLISH",
    "CONLL_2000",
    "CONLL_03",
    "CLEANCONLL",
    "AGNEWS",
    "ZELDA",
    "AIDA_NEL",
    "NER_MULTI_WIKINER",
)
FILE_CORPUS_TYPES = ("column", "conllu", "jsonl", "csv", "fasttext")
TRAINER_METHODS = ("fine_tune", "train", "train_custom")

TOP_LEVEL_KEYS = ("output", "encoder", "encoders", "corpora", "tasks", "multitask", "trainer")
TASK_KEYS = ("id", "head", "label_type", "corpus", "encoder", "loss_factor", "label_dictionary", "options")
LABEL_DICTIONARY_DEFAULTS = {"min_count": -1, "add_unk": False, "add_dev_test": False}
MULTITASK_DEFAULTS = {"sampling": "proportional", "temperature": 2.0, "use_all_tasks": False}
CANDIDATE_KEYS = ("source", "top_k", "backoff", "merge", "include_dev_test")

_NOT_FROM_YAML = {"self", "kwargs", "corpusargs", "reader_args", "args"}


class ConfigError(FormatError):
    """A config that does not follow the schema: names the file, the line (when known) and the key."""


# -------------------------------------------------------------------------------------------------
# loading and overrides
# -------------------------------------------------------------------------------------------------


class _Source:
    """Where the keys of a config came from: file lines, and which paths ``--set`` changed."""

    def __init__(self, path: Path | None, lines: dict[tuple, int] | None = None) -> None:
        self.path = path
        self.lines = lines or {}
        self.overridden: set[tuple] = set()

    def error(self, where: tuple, message: str) -> ConfigError:
        key = format_path(where)
        line = None
        probe = tuple(where)
        if any(probe[: len(o)] == o for o in self.overridden):
            message = f"{message} (set with --set)"
        else:
            while probe and line is None:
                line = self.lines.get(probe)
                probe = probe[:-1]
        text = f"{key}: {message}" if key else message
        return ConfigError(self.path, line, text)


def format_path(where: tuple) -> str:
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_index(text: str) -> dict[tuple, int]:
    """Key path -> 1-based line of that key in the YAML text (for error messages)."""
    index: dict[tuple, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: Any, where: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key: Any = key_node.value
                if isinstance(key, str) and key.lstrip("-").isdigit() and key_node.tag.endswith(":int"):
                    key = int(key)
                index[where + (key,)] = key_node.start_mark.line + 1
                walk(value_node, where + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                index[where + (i,)] = item.start_mark.line + 1
                walk(item, where + (i,))

    if root is not None:
        walk(root, ())
    return index


def load_config_text(text: str, path: Path | None = None) -> tuple[dict[str, Any], _Source]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, line, f"not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, 1, f"a config must be a mapping of keys, got a {type(data).__name__}")
    return data, _Source(path, _line_index(text))


def parse_override(text: str) -> tuple[tuple, Any]:
    """``"trainer.max_epochs=3"`` -> ``(("trainer", "max_epochs"), 3)``; values are read as YAML."""
    if "=" not in text:
        raise ConfigError(None, None, f"--set {text!r}: expected KEY=VALUE, e.g. trainer.max_epochs=3")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(None, None, f"--set {text!r}: the key must be dotted names like trainer.max_epochs")
    where = tuple(int(p) if p.lstrip("-").isdigit() else p for p in key.split("."))
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(None, None, f"--set {text!r}: the value is not valid YAML ({exc})") from None
    return where, value


def apply_override(config: dict[str, Any], where: tuple, value: Any) -> None:
    """Set ``value`` at the key path ``where``, creating mappings on the way; list items by index."""
    node: Any = config
    for depth, part in enumerate(where[:-1]):
        following = where[depth + 1]
        if isinstance(node, list):
            if not isinstance(part, int) or not -len(node) <= part < len(node):
                raise ConfigError(None, None, f"--set {format_path(where)}: no list item {part!r}")
            if not isinstance(node[part], (dict, list)):
                node[part] = {}
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise ConfigError(
                None, None, f"--set {format_path(where)}: {format_path(where[:depth])} is a value"
            )
        if part not in node or not isinstance(node[part], (dict, list)):
            node[part] = [] if isinstance(following, int) and part == "tasks" else {}
        node = node[part]
    last = where[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last <= len(node):
            raise ConfigError(None, None, f"--set {format_path(where)}: no list item {last!r}")
        if last == len(node):
            node.append(value)
        else:
            node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(None, None, f"--set {format_path(where)}: cannot set a key inside a value")


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> tuple[dict, _Source]:
    """Read a YAML config and apply ``--set`` overrides; returns the raw config and its source info."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason})") from None
    config, source = load_config_text(text, path)
    for item in overrides:
        where, value = parse_override(item)
        apply_override(config, where, value)
        source.overridden.add(where)
    return config, source


# -------------------------------------------------------------------------------------------------
# types from signatures
# -------------------------------------------------------------------------------------------------


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    parts.append(current.strip())
    return parts


def _annotation_text(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return "Any"
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


_NUMBER_LIKE = "0123456789+-.eEinfINFaAnN"


def coerce(value: Any, annotation: str) -> tuple[bool, Any]:
    """Whether ``value`` (from YAML) fits the annotation text, and the value to use.

    YAML reads ``5e-5`` as a string (YAML 1.1 wants ``5.0e-5``), so a string that is a number is
    accepted where a float is expected. Unknown annotations (Python objects) accept nothing but None
    when None is allowed: such options cannot come from a YAML file.
    """
    annotation = annotation.strip()
    options = _split_top(annotation, "|")
    if len(options) > 1:
        for option in options:
            ok, out = coerce(value, option)
            if ok:
                return True, out
        return False, value
    if annotation.startswith("Union[") and annotation.endswith("]"):
        return coerce(value, " | ".join(_split_top(annotation[6:-1], ",")))
    if annotation.startswith("Optional[") and annotation.endswith("]"):
        return coerce(value, annotation[9:-1] + " | None")
    if annotation in ("Any", "object", "typing.Any"):
        return True, value
    if annotation == "None":
        return value is None, value
    if annotation == "bool":
        return isinstance(value, bool), value
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str) and value and all(c in _NUMBER_LIKE for c in value.strip()):
            try:
                return True, float(value)
            except ValueError:
                return False, value
        return False, value
    if annotation in ("str", "PathLike", "os.PathLike", "Path"):
        return isinstance(value, str), value
    base = annotation.split("[", 1)[0].strip()
    if base in (
        "list",
        "tuple",
        "Sequence",
        "Iterable",
        "typing.Sequence",
        "collections.abc.Sequence",
        "collections.abc.Iterable",
        "List",
        "Tuple",
    ):
        if not isinstance(value, list):
            return False, value
        if "[" in annotation and base in ("list", "List", "Sequence", "Iterable"):
            inner = annotation[annotation.index("[") + 1 : -1]
            out = []
            for item in value:
                ok, item = coerce(item, inner)
                if not ok:
                    return False, value
                out.append(item)
            return True, out
        return True, value
    if base in ("dict", "Mapping", "Dict", "typing.Mapping", "collections.abc.Mapping"):
        return isinstance(value, dict), value
    return False, value


def _describe(annotation: str) -> str:
    return annotation.replace("PathLike", "path").replace("typing.", "")


class Param:
    """One allowed key: its annotation text and default (``REQUIRED`` when there is none)."""

    REQUIRED = object()

    def __init__(self, annotation: str = "Any", default: Any = REQUIRED, path: bool = False) -> None:
        self.annotation = annotation
        self.default = default
        self.path = path or "PathLike" in annotation


def signature_params(func: Callable, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Param]:
    """The keyword parameters of ``func`` that a YAML file can give, with annotations and defaults."""
    params: dict[str, Param] = {}
    for name, p in inspect.signature(func).parameters.items():
        if name in _NOT_FROM_YAML or name in exclude or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = Param.REQUIRED if p.default is inspect.Parameter.empty else p.default
        params[name] = Param(_annotation_text(p.annotation), default)
    return params


def jsonable_default(value: Any) -> Any:
    """A signature default as plain data (classes by dotted name, tuples as lists)."""
    if inspect.isclass(value):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, tuple):
        return [jsonable_default(v) for v in value]
    if isinstance(value, list):
        return [jsonable_default(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable_default(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return str(value)
    return value


def _unknown_key(source: _Source, where: tuple, key: Any, allowed: list[str]) -> ConfigError:
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return source.error(
        where + (key,),
        f"unknown key '{key}'{hint}; allowed keys here: {', '.join(sorted(map(str, allowed)))}",
    )


def _check_mapping(value: Any, source: _Source, where: tuple, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise source.error(where, f"{what} must be a mapping of keys, got {type(value).__name__} {value!r}")
    return value


def check_params(
    given: dict[str, Any],
    params: dict[str, Param],
    source: _Source,
    where: tuple,
    base_dir: Path,
    fill_defaults: bool = True,
    extra_ok: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Validate ``given`` against ``params``: unknown keys, types, required keys; fill defaults."""
    out: dict[str, Any] = {}
    for key, value in given.items():
        param = params.get(key)
        if param is None:
            if extra_ok is not None and extra_ok(key):
                out[key] = value
                continue
            raise _unknown_key(source, where, key, list(params))
        ok, value = coerce(value, param.annotation)
        if not ok:
            raise source.error(
                where + (key,),
                f"expected {_describe(param.annotation)}, got {type(value).__name__} {value!r}",
            )
        if param.path and isinstance(value, str):
            value = resolve_path(value, base_dir)
        out[key] = value
    for key, param in params.items():
        if key in out:
            continue
        if param.default is Param.REQUIRED:
            raise source.error(where, f"missing required key '{key}'")
        if fill_defaults:
            out[key] = jsonable_default(param.default)
    return out


def resolve_path(value: str, base_dir: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path).resolve())


# -------------------------------------------------------------------------------------------------
# sections
# -------------------------------------------------------------------------------------------------


def _encoder_params() -> dict[str, Param]:
    from polytag.embeddings import DEFAULT_MODEL_ID, TransformerEmbeddings

    params = signature_params(TransformerEmbeddings.__init__)
    params["model"] = Param("str", DEFAULT_MODEL_ID)
    # derived from the heads that use the encoder unless given
    params["is_token_embedding"] = Param("bool | None", None)
    params["is_document_embedding"] = Param("bool | None", None)
    return params


def _resolve_encoder(value: Any, source: _Source, where: tuple, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"model": value}
    given = _check_mapping(value, source, where, "an encoder")
    out = check_params(given, _encoder_params(), source, where, base_dir)
    model = str(out["model"])
    local = Path(model).expanduser()
    if not local.is_absolute() and (base_dir / local).is_dir():
        out["model"] = str((base_dir / local).resolve())
    elif model.startswith(("./", "../", "~")):
        out["model"] = resolve_path(model, base_dir)
    return out


def _corpus_class(kind: str) -> Any:
    import polytag.datasets as datasets

    return getattr(datasets, kind)


_CORPUS_BASE_EXCLUDE = {
    "data_folder",
    "train_file",
    "dev_file",
    "test_file",
    "train",
    "dev",
    "test",
    "in_memory",
    "column_format",
    "column_name_map",
    "path_to_column_file",
}


def _corpus_params(kind: str) -> dict[str, Param]:
    """Allowed keys of one corpus spec, besides ``type`` and ``downsample``."""
    from polytag.data import Corpus

    corpus_params = signature_params(Corpus.__init__, exclude={"train", "dev", "test"})
    files = {
        "folder": Param("PathLike | None", None),
        "train": Param("PathLike | None", None),
        "dev": Param("PathLike | None", None),
        "test": Param("PathLike | None", None),
    }
    if kind == "jsonl":
        from polytag.formats import read_jsonl_file

        params = dict(files)
        params.update(signature_params(read_jsonl_file, exclude={"path"}))
        params.update(corpus_params)
        return params
    if kind in FILE_CORPUS_TYPES:
        cls = {
            "column": "ColumnCorpus",
            "conllu": "UniversalDependenciesCorpus",
            "csv": "CSVClassificationCorpus",
            "fasttext": "ClassificationCorpus",
        }[kind]
        params = dict(files)
        if kind in ("column", "csv"):
            params["columns"] = Param("dict", Param.REQUIRED)
        params.update(signature_params(_corpus_class(cls).__init__, exclude=_CORPUS_BASE_EXCLUDE))
        for key, param in corpus_params.items():
            params.setdefault(key, param)
        return params
    params = {}
    for klass in _corpus_class(kind).__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        for key, param in signature_params(klass.__init__, exclude=_CORPUS_BASE_EXCLUDE).items():
            params.setdefault(key, param)
        if klass is Corpus:
            break
    return params


def _corpus_type(raw: str, source: _Source, where: tuple) -> str:
    for kind in NAMED_CORPORA + FILE_CORPUS_TYPES:
        if raw.lower() == kind.lower():
            return kind
    raise source.error(
        where, f"unknown corpus type {raw!r}; use one of {', '.join(FILE_CORPUS_TYPES + NAMED_CORPORA)}"
    )


def _resolve_corpus(value: Any, source: _Source, where: tuple, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"type": value}
    given = dict(_check_mapping(value, source, where, "a corpus"))
    if "type" not in given:
        raise source.error(
            where, "a corpus needs a 'type' (a named corpus or one of column, conllu, jsonl, ...)"
        )
    kind = _corpus_type(str(given.pop("type")), source, where + ("type",))
    downsample = given.pop("downsample", None)
    if downsample is not None:
        ok, downsample = coerce(downsample, "float")
        if not ok or not 0.0 < downsample <= 1.0:
            raise source.error(where + ("downsample",), f"expected a fraction in (0, 1], got {downsample!r}")
    params = _corpus_params(kind)
    out = check_params(given, params, source, where, base_dir, fill_defaults=False)
    if "columns" in out:
        out["columns"] = _columns(out["columns"], source, where + ("columns",))
    if kind in FILE_CORPUS_TYPES and not any(out.get(k) for k in ("folder", "train", "dev", "test")):
        raise source.error(where, f"a {kind} corpus needs 'folder' or 'train' (and optionally 'dev', 'test')")
    return {"type": kind, "downsample": downsample, **out}


def _columns(value: dict[Any, Any], source: _Source, where: tuple) -> dict[int, str]:
    columns: dict[int, str] = {}
    for key, name in value.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise source.error(where + (key,), f"column keys must be column numbers, got {key!r}") from None
        if not isinstance(name, str) or not name:
            raise source.error(where + (key,), f"a column name must be a string such as 'ner', got {name!r}")
        columns[index] = name
    return columns


def head_class(name: str) -> type:
    """A head class from the allow-list (SpanClassifier only where it is installed)."""
    from polytag.io import get_model_class

    if name == "SpanClassifier":
        import polytag.models.span_classifier  # noqa: F401  (registers the class)
    return get_model_class(name)


def available_heads() -> list[str]:
    heads = ["TokenClassifier", "SequenceTagger", "TextClassifier"]
    try:
        head_class("SpanClassifier")
        heads.append("SpanClassifier")
    except Exception:  # noqa: BLE001 - not part of this installation
        pass
    return heads


_HEAD_EXCLUDE = {"embeddings", "label_dictionary", "tag_dictionary", "label_type", "tag_type"}


def _head_params(name: str) -> dict[str, Param]:
    cls = head_class(name)
    params = signature_params(cls.__init__, exclude=_HEAD_EXCLUDE)
    if name == "SpanClassifier":
        params["decoder"] = Param("dict | None", None)
        params["candidates"] = Param("str | dict | None", None)
    else:
        params.pop("decoder", None)
    return params


def _resolve_candidates(value: Any, source: _Source, where: tuple, base_dir: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"source": value}
    given = _check_mapping(value, source, where, "candidates")
    params = {
        "source": Param("str", Param.REQUIRED),
        "top_k": Param("int | None", None),
        "backoff": Param("bool", True),
        "merge": Param("str | None", None),
        "include_dev_test": Param("bool", False),
    }
    out = check_params(given, params, source, where, base_dir)
    if out["source"] not in ("corpus", "zelda"):
        out["source"] = resolve_path(out["source"], base_dir)
    return out


def _resolve_task(
    index: int, value: Any, source: _Source, base_dir: Path, corpora: dict[str, Any], encoders: set[str]
) -> dict[str, Any]:
    where = ("tasks", index)
    given = _check_mapping(value, source, where, "a task")
    for key in given:
        if key not in TASK_KEYS:
            raise _unknown_key(source, where, key, list(TASK_KEYS))
    for key in ("head", "label_type", "corpus"):
        if given.get(key) in (None, ""):
            raise source.error(where, f"a task needs '{key}'")
    raw_head = str(given["head"])
    head = HEAD_ALIASES.get(raw_head.lower(), raw_head)
    heads = available_heads()
    if head not in heads:
        raise source.error(
            where + ("head",),
            f"unknown head {raw_head!r}; use one of {', '.join(heads)} "
            f"(or {', '.join(k for k, v in HEAD_ALIASES.items() if v in heads)})",
        )
    if not isinstance(given["label_type"], str):
        raise source.error(where + ("label_type",), f"expected a string, got {given['label_type']!r}")
    corpus = given["corpus"]
    if isinstance(corpus, str) and corpus in corpora:
        corpus_ref: Any = corpus
    else:
        corpus_ref = _resolve_corpus(corpus, source, where + ("corpus",), base_dir)
    encoder = given.get("encoder", "default") or "default"
    if encoder not in encoders:
        raise source.error(
            where + ("encoder",), f"no encoder named {encoder!r}; defined: {', '.join(sorted(encoders))}"
        )
    loss_factor = given.get("loss_factor", 1.0)
    ok, loss_factor = coerce(loss_factor, "float")
    if not ok:
        raise source.error(where + ("loss_factor",), f"expected a number, got {given['loss_factor']!r}")
    dictionary_params = {k: Param(type(v).__name__, v) for k, v in LABEL_DICTIONARY_DEFAULTS.items()}
    dictionary = check_params(
        _check_mapping(
            given.get("label_dictionary"), source, where + ("label_dictionary",), "label_dictionary"
        ),
        dictionary_params,
        source,
        where + ("label_dictionary",),
        base_dir,
    )
    options_where = where + ("options",)
    options = dict(_check_mapping(given.get("options"), source, options_where, "options"))
    candidates = options.pop("candidates", None) if head == "SpanClassifier" else None
    options = check_params(options, _head_params(head), source, options_where, base_dir)
    if head == "SpanClassifier":
        options["candidates"] = _resolve_candidates(
            candidates, source, options_where + ("candidates",), base_dir
        )
    task_id = given.get("id") or f"Task_{index}"
    if not isinstance(task_id, str):
        raise source.error(where + ("id",), f"expected a string, got {task_id!r}")
    return {
        "id": task_id,
        "head": head,
        "label_type": given["label_type"],
        "corpus": corpus_ref,
        "encoder": encoder,
        "loss_factor": loss_factor,
        "label_dictionary": dictionary,
        "options": options,
    }


def _trainer_params(method: str) -> dict[str, Param]:
    from polytag.training import ModelTrainer

    exclude = {"base_path", "plugins", "gold_label_dictionary_for_eval"}
    params = signature_params(getattr(ModelTrainer, method), exclude=exclude)
    if method == "train_custom":
        from polytag.training.trainer import _CALL_ARGUMENTS

        reference = signature_params(ModelTrainer.train, exclude=exclude)
        for key in sorted(_CALL_ARGUMENTS - exclude):
            if key in reference:
                params.setdefault(key, reference[key])
    default = params["optimizer"].default
    if inspect.isclass(default):
        default = f"torch.optim.{default.__name__}"
    params["optimizer"] = Param("str", default)
    return params


def _optimizer_arguments(name: str) -> set[str]:
    from polytag.training.options import optimizer_name, resolve_optimizer

    cls = resolve_optimizer(optimizer_name(name))
    return set(inspect.signature(cls.__init__).parameters) - {"self", "params", "lr"}


def _resolve_trainer(value: Any, source: _Source, base_dir: Path) -> dict[str, Any]:
    from polytag.training.options import IGNORED_FLAIR_ARGUMENTS

    where = ("trainer",)
    given = dict(_check_mapping(value, source, where, "trainer"))
    method = given.pop("method", "fine_tune")
    if method not in TRAINER_METHODS:
        raise source.error(
            where + ("method",), f"expected one of {', '.join(TRAINER_METHODS)}, got {method!r}"
        )
    params = _trainer_params(method)
    optimizer = given.get("optimizer", params["optimizer"].default)
    optimizer = jsonable_default(optimizer)
    try:
        optimizer_args = _optimizer_arguments(str(optimizer))
    except TypeError:
        import torch

        names = sorted(
            n
            for n in dir(torch.optim)
            if inspect.isclass(getattr(torch.optim, n))
            and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)
            and n != "Optimizer"
        )
        raise source.error(
            where + ("optimizer",),
            f"unknown optimizer {optimizer!r}; use one of torch.optim's: {', '.join(names)}",
        ) from None
    if "optimizer" in given:
        given["optimizer"] = optimizer

    def extra_ok(key: str) -> bool:
        if key in IGNORED_FLAIR_ARGUMENTS:
            log.info(
                "trainer.%s is a Flair option without effect here: %s", key, IGNORED_FLAIR_ARGUMENTS[key]
            )
            return True
        return key in optimizer_args

    try:
        out = check_params(given, params, source, where, base_dir, extra_ok=extra_ok)
    except ConfigError as exc:
        if "unknown key" in exc.message:
            raise ConfigError(
                exc.path,
                exc.line,
                exc.message
                + f"; arguments of {str(optimizer).rsplit('.', 1)[-1]}: "
                + ", ".join(sorted(optimizer_args)),
            ) from None
        raise
    return {"method": method, **out}


def resolve_config(
    config: dict[str, Any],
    source: _Source | None = None,
    base_dir: str | os.PathLike | None = None,
    output: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Validate a raw config and return the resolved one (defaults filled in, paths absolute)."""
    source = source or _Source(None)
    base = Path(base_dir) if base_dir is not None else (source.path.parent if source.path else Path.cwd())
    base = base.resolve()
    config = copy.deepcopy(config)
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown_key(source, (), key, list(TOP_LEVEL_KEYS))
    if output is not None:
        resolved_output = str(Path(output).expanduser().resolve())
    elif config.get("output"):
        if not isinstance(config["output"], str):
            raise source.error(("output",), f"expected a path, got {config['output']!r}")
        resolved_output = resolve_path(config["output"], base)
    else:
        resolved_output = str((Path.cwd() / "polytag-run").resolve())

    encoders = {"default": _resolve_encoder(config.get("encoder"), source, ("encoder",), base)}
    for name, value in _check_mapping(config.get("encoders"), source, ("encoders",), "encoders").items():
        if name == "default":
            raise source.error(("encoders", name), "'default' is the top-level 'encoder'; use another name")
        encoders[str(name)] = _resolve_encoder(value, source, ("encoders", name), base)

    corpora = {
        str(name): _resolve_corpus(value, source, ("corpora", name), base)
        for name, value in _check_mapping(config.get("corpora"), source, ("corpora",), "corpora").items()
    }
    raw_tasks = config.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise source.error(("tasks",), "a config needs 'tasks': a list with at least one task")
    tasks = [_resolve_task(i, t, source, base, corpora, set(encoders)) for i, t in enumerate(raw_tasks)]
    ids = [t["id"] for t in tasks]
    if len(set(ids)) != len(ids):
        raise source.error(("tasks",), f"task ids must be distinct, got {ids}")

    multitask = check_params(
        _check_mapping(config.get("multitask"), source, ("multitask",), "multitask"),
        {
            "sampling": Param("str", "proportional"),
            "temperature": Param("float", 2.0),
            "use_all_tasks": Param("bool", False),
        },
        source,
        ("multitask",),
        base,
    )
    from polytag.models.multitask import SAMPLING

    if multitask["sampling"] not in SAMPLING:
        raise source.error(
            ("multitask", "sampling"), f"expected one of {', '.join(SAMPLING)}, got {multitask['sampling']!r}"
        )
    # which vectors each encoder must produce follows from the heads that use it
    for name, encoder in encoders.items():
        users = [t for t in tasks if t["encoder"] == name]
        if encoder["is_token_embedding"] is None:
            encoder["is_token_embedding"] = any(t["head"] not in DOCUMENT_HEADS for t in users) or not users
        if encoder["is_document_embedding"] is None:
            encoder["is_document_embedding"] = any(t["head"] in DOCUMENT_HEADS for t in users)
    used = {t["encoder"] for t in tasks}
    encoders = {k: v for k, v in encoders.items() if k in used or k == "default"}
    return {
        "output": resolved_output,
        "encoder": encoders.pop("default"),
        "encoders": encoders,
        "corpora": corpora,
        "tasks": tasks,
        "multitask": multitask,
        "trainer": _resolve_trainer(config.get("trainer"), source, base),
    }


def load_and_resolve(
    path: str | os.PathLike,
    overrides: list[str] | tuple[str, ...] = (),
    output: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """``load_config`` + ``resolve_config`` for a config file."""
    raw, source = load_config(path, overrides)
    return resolve_config(raw, source, output=output)


# -------------------------------------------------------------------------------------------------
# building
# -------------------------------------------------------------------------------------------------


def build_corpus(spec: dict[str, Any]) -> Any:
    """The Corpus a resolved corpus spec describes (named, or read from files)."""
    from polytag.data import Corpus

    spec = dict(spec)
    kind = spec.pop("type")
    downsample = spec.pop("downsample", None)
    if kind in NAMED_CORPORA:
        corpus = _corpus_class(kind)(**spec)
    elif kind == "jsonl":
        from polytag.formats import read_jsonl_file

        reader = {k: spec.pop(k) for k in ("encoding", "label_type", "span_type") if k in spec}
        folder = spec.pop("folder", None)
        files = {split: spec.pop(split, None) for split in ("train", "dev", "test")}
        if folder and not any(files.values()):
            from polytag.datasets import find_train_dev_test_files

            dev, test, train = find_train_dev_test_files(folder)
            files = {"train": train, "dev": dev, "test": test}
        splits = {k: (read_jsonl_file(v, **reader) if v else None) for k, v in files.items()}
        corpus = Corpus(splits["train"], splits["dev"], splits["test"], **spec)
    else:
        cls = _corpus_class(
            {
                "column": "ColumnCorpus",
                "conllu": "UniversalDependenciesCorpus",
                "csv": "CSVClassificationCorpus",
                "fasttext": "ClassificationCorpus",
            }[kind]
        )
        folder = spec.pop("folder", None)
        files = {f"{split}_file": spec.pop(split, None) for split in ("train", "dev", "test")}
        if folder is None:
            given = [Path(v) for v in files.values() if v]
            folder = str(given[0].parent)
        columns = spec.pop("columns", None)
        if kind == "column":
            spec["column_format"] = columns
        elif kind == "csv":
            spec["column_name_map"] = columns
        files = {k: v for k, v in files.items() if v}
        corpus = cls(folder, **files, **spec)
    if downsample is not None and downsample < 1.0:
        corpus.downsample(downsample)
    return corpus


def _build_candidates(spec: dict[str, Any] | None, corpus: Any, label_type: str) -> Any:
    if spec is None:
        return None
    from polytag.nn.candidates import CandidateGenerator

    kwargs = {"backoff": spec["backoff"], "top_k": spec["top_k"]}
    if spec.get("merge"):
        kwargs["merge"] = spec["merge"]
    if spec["source"] == "corpus":
        return CandidateGenerator.from_corpus(
            corpus, label_type=label_type, include_dev_test=spec["include_dev_test"], **kwargs
        )
    return CandidateGenerator(spec["source"], **kwargs)


def build_encoder(spec: dict[str, Any]) -> Any:
    from polytag.embeddings import TransformerEmbeddings

    return TransformerEmbeddings(**spec)


def corpus_groups(resolved: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Tasks grouped by the corpus they train on: one corpus is read once however many tasks use it."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for task in resolved["tasks"]:
        ref = task["corpus"]
        spec = resolved["corpora"][ref] if isinstance(ref, str) else ref
        key = json.dumps(spec, sort_keys=True)
        groups.setdefault(key, (spec, []))[1].append(task)
    return list(groups.values())


def build_corpora(resolved: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The training corpus of a resolved config and each task's own corpus.

    One task: its corpus. Several: a MultiCorpus whose sentences carry a ``multitask_id`` label for
    every task that trains on them (tasks sharing a corpus see the same sentences: aligned data).
    """
    from polytag.data import MultiCorpus

    per_task: dict[str, Any] = {}
    corpora = []
    for spec, tasks in corpus_groups(resolved):
        corpus = build_corpus(spec)
        corpora.append(corpus)
        for task in tasks:
            per_task[task["id"]] = corpus
        if len(resolved["tasks"]) > 1:
            ids = [t["id"] for t in tasks]
            for sentence in corpus.get_all_sentences():
                present = {label.value for label in sentence.get_labels("multitask_id")}
                for task_id in ids:
                    if task_id not in present:
                        sentence.add_label("multitask_id", task_id)
    if len(resolved["tasks"]) == 1:
        return corpora[0], per_task
    return MultiCorpus(corpora, name="multicorpus"), per_task


def build_model(resolved: dict[str, Any], per_task: dict[str, Any]) -> Any:
    """The model a resolved config describes, with label dictionaries made from each task's corpus."""
    import torch

    seed = resolved["trainer"].get("seed")
    if seed is not None:
        torch.manual_seed(int(seed))
    encoders = {"default": build_encoder(resolved["encoder"])}
    for name, spec in resolved["encoders"].items():
        encoders[name] = build_encoder(spec)
    heads = []
    for task in resolved["tasks"]:
        corpus = per_task[task["id"]]
        dictionary = corpus.make_label_dictionary(task["label_type"], **task["label_dictionary"])
        options = dict(task["options"])
        if task["head"] == "SpanClassifier":
            options["candidates"] = _build_candidates(options.get("candidates"), corpus, task["label_type"])
        cls = head_class(task["head"])
        heads.append(cls(encoders[task["encoder"]], dictionary, task["label_type"], **options))
    if len(heads) == 1:
        return heads[0]
    from polytag.models import MultitaskModel

    multitask = resolved["multitask"]
    return MultitaskModel(
        heads,
        [t["id"] for t in resolved["tasks"]],
        loss_factors=[t["loss_factor"] for t in resolved["tasks"]],
        use_all_tasks=multitask["use_all_tasks"],
        task_sampling=multitask["sampling"],
        sampling_temperature=multitask["temperature"],
    )


# -------------------------------------------------------------------------------------------------
# saving
# -------------------------------------------------------------------------------------------------


def dump_config(resolved: dict[str, Any]) -> str:
    header = "# polytag training config, resolved: overrides applied, defaults filled in, paths absolute.\n"
    return header + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, default_flow_style=False)


def save_resolved(resolved: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``config.yaml`` into ``folder`` (next to the model files)."""
    from polytag.formats._io import atomic_writer

    target = Path(folder) / CONFIG_FILE_NAME
    with atomic_writer(target) as out:
        out.write(dump_config(resolved))
    return target


def embed_in_model(model_file: str | os.PathLike, resolved: dict[str, Any]) -> None:
    """Store the resolved config inside a saved model file (key ``training_config`` of its JSON config)."""
    from polytag.io import load_model_file, save_model_file

    config, tensors = load_model_file(model_file)
    config[MODEL_CONFIG_KEY] = resolved
    save_model_file(model_file, config, tensors)
