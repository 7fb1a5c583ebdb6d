"""Resolving a raw config: validate every section and fill in defaults, paths made absolute.

Validation is strict on purpose: an unknown or misspelt key is an error that names the key, its line
and the keys allowed there; a value of the wrong type is an error too. Allowed keys and their types
are read from the signatures of what the config drives (``ModelTrainer.fine_tune``,
``TransformerEmbeddings``, the head and corpus classes), so a new option there is a new key here.
Relative paths are relative to the config file's folder.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
from pathlib import Path
from typing import Any

from polytag.config.build import FILE_CORPUS_TYPES, NAMED_CORPORA, available_heads, corpus_class, head_class
from polytag.config.schema import (
    Param,
    check_mapping,
    check_params,
    coerce,
    jsonable_default,
    resolve_path,
    signature_params,
    unknown_key,
)
from polytag.config.source import ConfigError, ConfigSource, KeyPath, load_config

log = logging.getLogger("polytag")

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
TRAINER_METHODS = ("fine_tune", "train", "train_custom")

TOP_LEVEL_KEYS = ("output", "encoder", "encoders", "corpora", "tasks", "multitask", "trainer")
TASK_KEYS = ("id", "head", "label_type", "corpus", "encoder", "loss_factor", "label_dictionary", "options")
LABEL_DICTIONARY_DEFAULTS = {"min_count": -1, "add_unk": False, "add_dev_test": False}
MULTITASK_DEFAULTS = {"sampling": "proportional", "temperature": 2.0, "use_all_tasks": False}
CANDIDATE_KEYS = ("source", "top_k", "backoff", "merge", "include_dev_test")

# -- encoders ---------------------------------------------------------------------------------------


def _encoder_params() -> dict[str, Param]:
    from polytag.embeddings import DEFAULT_MODEL_ID, TransformerEmbeddings

    params = signature_params(TransformerEmbeddings.__init__)
    params["model"] = Param(str, DEFAULT_MODEL_ID)
    # derived from the heads that use the encoder unless given
    params["is_token_embedding"] = Param(bool | None, None)
    params["is_document_embedding"] = Param(bool | None, None)
    return params


def _resolve_encoder(value: Any, source: ConfigSource, where: KeyPath, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"model": value}
    given = check_mapping(value, source, where, "an encoder")
    out = check_params(given, _encoder_params(), source, where, base_dir)
    model = str(out["model"])
    local = Path(model).expanduser()
    if not local.is_absolute() and (base_dir / local).is_dir():
        out["model"] = str((base_dir / local).resolve())
    elif model.startswith(("./", "../", "~")):
        out["model"] = resolve_path(model, base_dir)
    return out


# -- corpora ----------------------------------------------------------------------------------------

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
_PATH_OR_NONE = str | os.PathLike | None


def _corpus_params(kind: str) -> dict[str, Param]:
    """Allowed keys of one corpus spec, besides ``type`` and ``downsample``."""
    from polytag.data import Corpus

    corpus_params = signature_params(Corpus.__init__, exclude={"train", "dev", "test"})
    params = {split: Param(_PATH_OR_NONE, None) for split in ("folder", "train", "dev", "test")}
    if kind == "jsonl":
        from polytag.formats import read_jsonl_file

        params.update(signature_params(read_jsonl_file, exclude={"path"}))
        params.update(corpus_params)
        return params
    if kind in FILE_CORPUS_TYPES:
        if kind in ("column", "csv"):
            params["columns"] = Param(dict, Param.REQUIRED)
        params.update(signature_params(corpus_class(kind).__init__, exclude=_CORPUS_BASE_EXCLUDE))
        for key, param in corpus_params.items():
            params.setdefault(key, param)
        return params
    params = {}
    for klass in corpus_class(kind).__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        for key, param in signature_params(klass.__init__, exclude=_CORPUS_BASE_EXCLUDE).items():
            params.setdefault(key, param)
        if klass is Corpus:
            break
    return params


def _corpus_type(raw: str, source: ConfigSource, where: KeyPath) -> str:
    for kind in NAMED_CORPORA + FILE_CORPUS_TYPES:
        if raw.lower() == kind.lower():
            return kind
    raise source.error(
        where, f"unknown corpus type {raw!r}; use one of {', '.join(FILE_CORPUS_TYPES + NAMED_CORPORA)}"
    )


def _resolve_corpus(value: Any, source: ConfigSource, where: KeyPath, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"type": value}
    given = dict(check_mapping(value, source, where, "a corpus"))
    if "type" not in given:
        raise source.error(
            where, "a corpus needs a 'type' (a named corpus or one of column, conllu, jsonl, ...)"
        )
    kind = _corpus_type(str(given.pop("type")), source, where + ("type",))
    downsample = given.pop("downsample", None)
    if downsample is not None:
        ok, downsample = coerce(downsample, float)
        if not ok or not 0.0 < downsample <= 1.0:
            raise source.error(where + ("downsample",), f"expected a fraction in (0, 1], got {downsample!r}")
    out = check_params(given, _corpus_params(kind), source, where, base_dir, fill_defaults=False)
    if "columns" in out:
        out["columns"] = _columns(out["columns"], source, where + ("columns",))
    if kind in FILE_CORPUS_TYPES and not any(out.get(k) for k in ("folder", "train", "dev", "test")):
        raise source.error(where, f"a {kind} corpus needs 'folder' or 'train' (and optionally 'dev', 'test')")
    return {"type": kind, "downsample": downsample, **out}


def _columns(value: dict[Any, Any], source: ConfigSource, where: KeyPath) -> dict[int, str]:
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


# -- tasks ------------------------------------------------------------------------------------------

_HEAD_EXCLUDE = {"embeddings", "label_dictionary", "tag_dictionary", "label_type", "tag_type"}


def _head_params(name: str) -> dict[str, Param]:
    cls: Any = head_class(name)
    params = signature_params(cls.__init__, exclude=_HEAD_EXCLUDE)
    if name == "SpanClassifier":
        params["decoder"] = Param(dict | None, None)
        params["candidates"] = Param(str | dict | None, None)
    else:
        params.pop("decoder", None)
    return params


def _resolve_candidates(value: Any, source: ConfigSource, where: KeyPath, base_dir: Path) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"source": value}
    given = check_mapping(value, source, where, "candidates")
    params = {
        "source": Param(str, Param.REQUIRED),
        "top_k": Param(int | None, None),
        "backoff": Param(bool, True),
        "merge": Param(str | None, None),
        "include_dev_test": Param(bool, False),
    }
    out = check_params(given, params, source, where, base_dir)
    if out["source"] not in ("corpus", "zelda"):
        out["source"] = resolve_path(out["source"], base_dir)
    return out


def _task_head(given: dict[str, Any], source: ConfigSource, where: KeyPath) -> str:
    raw_head = str(given["head"])
    head = HEAD_ALIASES.get(raw_head.lower(), raw_head)
    heads = available_heads()
    if head not in heads:
        raise source.error(
            where + ("head",),
            f"unknown head {raw_head!r}; use one of {', '.join(heads)} "
            f"(or {', '.join(k for k, v in HEAD_ALIASES.items() if v in heads)})",
        )
    return head


def _task_options(
    head: str, given: dict[str, Any], source: ConfigSource, where: KeyPath, base_dir: Path
) -> dict[str, Any]:
    options_where = where + ("options",)
    options = dict(check_mapping(given.get("options"), source, options_where, "options"))
    candidates = options.pop("candidates", None) if head == "SpanClassifier" else None
    options = check_params(options, _head_params(head), source, options_where, base_dir)
    if head == "SpanClassifier":
        options["candidates"] = _resolve_candidates(
            candidates, source, options_where + ("candidates",), base_dir
        )
    return options


def _resolve_task(
    index: int,
    value: Any,
    source: ConfigSource,
    base_dir: Path,
    corpora: dict[str, Any],
    encoders: set[str],
) -> dict[str, Any]:
    where: KeyPath = ("tasks", index)
    given = check_mapping(value, source, where, "a task")
    for key in given:
        if key not in TASK_KEYS:
            raise unknown_key(source, where, key, list(TASK_KEYS))
    for key in ("head", "label_type", "corpus"):
        if given.get(key) in (None, ""):
            raise source.error(where, f"a task needs '{key}'")
    head = _task_head(given, source, where)
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
    ok, loss_factor = coerce(given.get("loss_factor", 1.0), float)
    if not ok:
        raise source.error(where + ("loss_factor",), f"expected a number, got {given['loss_factor']!r}")
    dictionary_where = where + ("label_dictionary",)
    dictionary = check_params(
        check_mapping(given.get("label_dictionary"), source, dictionary_where, "label_dictionary"),
        {k: Param(type(v), v) for k, v in LABEL_DICTIONARY_DEFAULTS.items()},
        source,
        dictionary_where,
        base_dir,
    )
    options = _task_options(head, given, source, where, base_dir)
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


# -- trainer ----------------------------------------------------------------------------------------


def _trainer_params(method: str) -> dict[str, Param]:
    from polytag.training import ModelTrainer
    from polytag.training.trainer import CALL_ARGUMENTS

    exclude = {"base_path", "plugins", "gold_label_dictionary_for_eval"}
    params = signature_params(getattr(ModelTrainer, method), exclude=exclude)
    if method == "train_custom":
        reference = signature_params(ModelTrainer.train, exclude=exclude)
        for key in sorted(CALL_ARGUMENTS - exclude):
            if key in reference:
                params.setdefault(key, reference[key])
    default = params["optimizer"].default
    if inspect.isclass(default):
        default = f"torch.optim.{default.__name__}"
    params["optimizer"] = Param(str, default)
    return params


def _optimizer_arguments(name: str, source: ConfigSource, where: KeyPath) -> set[str]:
    """The keyword arguments of a ``torch.optim`` optimizer, besides params and lr."""
    from polytag.training.options import optimizer_name, resolve_optimizer

    try:
        cls = resolve_optimizer(optimizer_name(name))
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
            where, f"unknown optimizer {name!r}; use one of torch.optim's: {', '.join(names)}"
        ) from None
    return set(inspect.signature(cls.__init__).parameters) - {"self", "params", "lr"}


def _resolve_trainer(value: Any, source: ConfigSource, base_dir: Path) -> dict[str, Any]:
    from polytag.training.options import IGNORED_FLAIR_ARGUMENTS

    where: KeyPath = ("trainer",)
    given = dict(check_mapping(value, source, where, "trainer"))
    method = given.pop("method", "fine_tune")
    if method not in TRAINER_METHODS:
        raise source.error(
            where + ("method",), f"expected one of {', '.join(TRAINER_METHODS)}, got {method!r}"
        )
    params = _trainer_params(method)
    optimizer = jsonable_default(given.get("optimizer", params["optimizer"].default))
    optimizer_args = _optimizer_arguments(str(optimizer), source, where + ("optimizer",))
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
            arguments = f"; arguments of {str(optimizer).rsplit('.', 1)[-1]}: " + ", ".join(
                sorted(optimizer_args)
            )
            raise ConfigError(exc.path, exc.line, exc.message + arguments) from None
        raise
    return {"method": method, **out}


# -- the whole config -------------------------------------------------------------------------------


def _resolve_output(config: dict[str, Any], source: ConfigSource, base: Path, output: Any) -> str:
    if output is not None:
        return str(Path(output).expanduser().resolve())
    if config.get("output"):
        if not isinstance(config["output"], str):
            raise source.error(("output",), f"expected a path, got {config['output']!r}")
        return resolve_path(config["output"], base)
    return str((Path.cwd() / "polytag-run").resolve())


def _resolve_encoders(config: dict[str, Any], source: ConfigSource, base: Path) -> dict[str, dict[str, Any]]:
    encoders = {"default": _resolve_encoder(config.get("encoder"), source, ("encoder",), base)}
    for name, value in check_mapping(config.get("encoders"), source, ("encoders",), "encoders").items():
        if name == "default":
            raise source.error(("encoders", name), "'default' is the top-level 'encoder'; use another name")
        encoders[str(name)] = _resolve_encoder(value, source, ("encoders", name), base)
    return encoders


def _resolve_tasks(
    config: dict[str, Any], source: ConfigSource, base: Path, corpora: dict[str, Any], encoders: set[str]
) -> list[dict[str, Any]]:
    raw_tasks = config.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise source.error(("tasks",), "a config needs 'tasks': a list with at least one task")
    tasks = [_resolve_task(i, t, source, base, corpora, encoders) for i, t in enumerate(raw_tasks)]
    ids = [t["id"] for t in tasks]
    if len(set(ids)) != len(ids):
        raise source.error(("tasks",), f"task ids must be distinct, got {ids}")
    return tasks


def _resolve_multitask(config: dict[str, Any], source: ConfigSource, base: Path) -> dict[str, Any]:
    from polytag.models.multitask import SAMPLING

    where: KeyPath = ("multitask",)
    multitask = check_params(
        check_mapping(config.get("multitask"), source, where, "multitask"),
        {
            "sampling": Param(str, "proportional"),
            "temperature": Param(float, 2.0),
            "use_all_tasks": Param(bool, False),
        },
        source,
        where,
        base,
    )
    if multitask["sampling"] not in SAMPLING:
        raise source.error(
            where + ("sampling",), f"expected one of {', '.join(SAMPLING)}, got {multitask['sampling']!r}"
        )
    return multitask


def _derive_vector_kinds(encoders: dict[str, dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
    """Which vectors each encoder must produce follows from the heads that use it (unless given)."""
    for name, encoder in encoders.items():
        users = [t for t in tasks if t["encoder"] == name]
        if encoder["is_token_embedding"] is None:
            encoder["is_token_embedding"] = any(t["head"] not in DOCUMENT_HEADS for t in users) or not users
        if encoder["is_document_embedding"] is None:
            encoder["is_document_embedding"] = any(t["head"] in DOCUMENT_HEADS for t in users)


def resolve_config(
    config: dict[str, Any],
    source: ConfigSource | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Validate a raw config and return the resolved one (defaults filled in, paths absolute)."""
    source = source or ConfigSource(None)
    base = Path(base_dir) if base_dir is not None else (source.path.parent if source.path else Path.cwd())
    base = base.resolve()
    config = copy.deepcopy(config)
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise unknown_key(source, (), key, list(TOP_LEVEL_KEYS))
    resolved_output = _resolve_output(config, source, base, output)
    encoders = _resolve_encoders(config, source, base)
    corpora = {
        str(name): _resolve_corpus(value, source, ("corpora", name), base)
        for name, value in check_mapping(config.get("corpora"), source, ("corpora",), "corpora").items()
    }
    tasks = _resolve_tasks(config, source, base, corpora, set(encoders))
    multitask = _resolve_multitask(config, source, base)
    _derive_vector_kinds(encoders, tasks)
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
    path: str | os.PathLike[str],
    overrides: list[str] | tuple[str, ...] = (),
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """``load_config`` + ``resolve_config`` for a config file."""
    raw, source = load_config(path, overrides)
    return resolve_config(raw, source, output=output)
