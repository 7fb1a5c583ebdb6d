"""YAML training configs: read (``source``), typed (``schema``), resolved (``resolve``), built (``build``).

A config names the encoder(s), the corpora, the tasks (head, label type, options), multitask sampling
and the trainer's options (docs/config.md is the reference, ``polytag init-config`` writes a commented
start). The *resolved* config (overrides applied, defaults filled in, paths absolute) is what
``polytag train`` saves next to the model; a portable copy (no local paths) goes inside it.
"""

from __future__ import annotations

from polytag.config.build import (
    FILE_CORPUS_CLASSES,
    FILE_CORPUS_TYPES,
    NAMED_CORPORA,
    available_heads,
    build_corpora,
    build_corpus,
    build_encoder,
    build_model,
    corpus_class,
    corpus_groups,
    head_class,
    trainer_arguments,
)
from polytag.config.resolve import (
    DOCUMENT_HEADS,
    HEAD_ALIASES,
    HEAD_CLASSES,
    TOP_LEVEL_KEYS,
    TRAINER_METHODS,
    load_and_resolve,
    resolve_config,
)
from polytag.config.saving import (
    CONFIG_FILE_NAME,
    MODEL_CONFIG_KEY,
    dump_config,
    embed_in_model,
    portable_config,
    save_resolved,
)
from polytag.config.schema import Param, check_params, coerce, signature_params
from polytag.config.source import (
    MAX_DEPTH,
    MAX_NODES,
    ConfigError,
    ConfigSource,
    apply_override,
    format_path,
    load_config,
    load_config_text,
    parse_override,
    read_yaml,
)

__all__ = [
    "CONFIG_FILE_NAME",
    "DOCUMENT_HEADS",
    "FILE_CORPUS_CLASSES",
    "FILE_CORPUS_TYPES",
    "HEAD_ALIASES",
    "HEAD_CLASSES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MODEL_CONFIG_KEY",
    "NAMED_CORPORA",
    "TOP_LEVEL_KEYS",
    "TRAINER_METHODS",
    "ConfigError",
    "ConfigSource",
    "Param",
    "apply_override",
    "available_heads",
    "build_corpora",
    "build_corpus",
    "build_encoder",
    "build_model",
    "check_params",
    "coerce",
    "corpus_class",
    "corpus_groups",
    "dump_config",
    "embed_in_model",
    "format_path",
    "head_class",
    "load_and_resolve",
    "load_config",
    "load_config_text",
    "parse_override",
    "portable_config",
    "read_yaml",
    "resolve_config",
    "save_resolved",
    "signature_params",
    "trainer_arguments",
]
