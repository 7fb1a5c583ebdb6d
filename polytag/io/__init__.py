"""Model files (safetensors plus a JSON config, never pickle) and the allow-list of model classes."""

from polytag.io.model_file import (
    FORMAT_VERSION,
    MAX_JSON_DEPTH,
    header_dtypes,
    header_shapes,
    inspect_model_file,
    load_model_file,
    load_model_tensors,
    parse_json,
    read_model_header,
    save_model_file,
)
from polytag.io.registry import (
    check_model_config,
    get_model_class,
    register_model_class,
    registered_model_classes,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_JSON_DEPTH",
    "check_model_config",
    "get_model_class",
    "header_dtypes",
    "header_shapes",
    "inspect_model_file",
    "load_model_file",
    "load_model_tensors",
    "parse_json",
    "read_model_header",
    "register_model_class",
    "registered_model_classes",
    "save_model_file",
]
