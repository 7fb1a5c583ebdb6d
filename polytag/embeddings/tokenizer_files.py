"""Tokenizer files in and out of model files, such that loading them can never run code.

A model file carries its tokenizer as ``tokenizer_files`` (name -> UTF-8 text) and
``tokenizer_binary_files`` (name -> base64). Transformers runs Python code shipped next to a tokenizer
when a JSON file names it (``auto_map``) and someone answers "y" to its prompt, so only an allow-list
gets through:

* names: exactly the files tokenizers are saved as (:data:`ALLOWED_TOKENIZER_FILES`), no folders, no
  ``.py``, no ``config.json``;
* JSON files must be JSON objects; ``tokenizer_config.json`` and ``special_tokens_map.json`` may not
  hold a remote-code key (:data:`REMOTE_CODE_KEYS`) at any depth, ``tokenizer.json`` not at its top
  level; ``vocab.json`` and ``added_tokens.json`` must map strings to integer ids;
* every ``from_pretrained`` passes ``trust_remote_code=False``.

Anything else is a :class:`~polytag.errors.ModelFileError` naming the entry, before a file is written.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polytag.errors import ModelFileError

TEXT_FILES_KEY = "tokenizer_files"
BINARY_FILES_KEY = "tokenizer_binary_files"
ALLOWED_TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "sentencepiece.bpe.model",
        "sentencepiece.model",
        "tokenizer.model",
        "chat_template.jinja",
    }
)
REMOTE_CODE_KEYS = frozenset({"auto_map", "trust_remote_code", "custom_pipelines"})
MAX_TOKENIZER_BYTES = 512 * 1024 * 1024
_CHECKED_DEEP = ("tokenizer_config.json", "special_tokens_map.json")
_ID_MAPS = ("vocab.json", "added_tokens.json")


def _remote_code_key(value: Any, deep: bool) -> str | None:
    """The first remote-code key in a JSON value (nested objects and lists too when ``deep``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in REMOTE_CODE_KEYS:
                return key
            found = _remote_code_key(item, deep) if deep else None
            if found:
                return found
    elif isinstance(value, list) and deep:
        for item in value:
            found = _remote_code_key(item, deep)
            if found:
                return found
    return None


def _check_json(name: str, data: bytes) -> None:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(f"tokenizer file {name!r} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"tokenizer file {name!r} is a JSON {type(value).__name__}, not an object")
    if name in _ID_MAPS:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise ModelFileError(f"tokenizer file {name!r} must map tokens to integer ids")
        return
    key = _remote_code_key(value, deep=name in _CHECKED_DEEP)
    if key is not None:
        raise ModelFileError(f"tokenizer file {name!r} holds {key!r}: model files may not name code to run")


def _check_name(name: object, entry: str) -> str:
    if not isinstance(name, str) or name not in ALLOWED_TOKENIZER_FILES:
        allowed = ", ".join(sorted(ALLOWED_TOKENIZER_FILES))
        raise ModelFileError(f"{entry} entry {name!r} is not an allowed tokenizer file (allowed: {allowed})")
    return name


def tokenizer_files_from_config(config: Mapping[str, Any]) -> dict[str, bytes]:
    """The checked tokenizer files of an embedding config, name -> bytes (see the module docstring)."""
    text_files = config.get(TEXT_FILES_KEY)
    binary_files = config.get(BINARY_FILES_KEY, {})
    if not isinstance(text_files, dict):
        got = "nothing" if text_files is None else f"a JSON {type(text_files).__name__}"
        raise ModelFileError(f"embedding config entry {TEXT_FILES_KEY!r}: expected an object, got {got}")
    if not isinstance(binary_files, dict):
        got = f"a JSON {type(binary_files).__name__}"
        raise ModelFileError(f"embedding config entry {BINARY_FILES_KEY!r}: expected an object, got {got}")
    files: dict[str, bytes] = {}
    total = 0
    for entry, mapping, binary in (
        (TEXT_FILES_KEY, text_files, False),
        (BINARY_FILES_KEY, binary_files, True),
    ):
        for raw_name, content in sorted(mapping.items(), key=lambda item: str(item[0])):
            name = _check_name(raw_name, entry)
            if name in files:
                raise ModelFileError(f"tokenizer file {name!r} appears in both {TEXT_FILES_KEY} and {entry}")
            if not isinstance(content, str):
                raise ModelFileError(
                    f"{entry} entry {name!r}: expected a string, got {type(content).__name__}"
                )
            if binary:
                try:
                    data = base64.b64decode(content, validate=True)
                except (binascii.Error, ValueError) as error:
                    raise ModelFileError(f"{entry} entry {name!r} is not valid base64 ({error})") from None
            else:
                data = content.encode("utf-8")
            total += len(data)
            if total > MAX_TOKENIZER_BYTES:
                raise ModelFileError(f"the tokenizer files exceed {MAX_TOKENIZER_BYTES} bytes at {name!r}")
            if name.endswith(".json"):
                _check_json(name, data)
            files[name] = data
    if not files:
        raise ModelFileError(f"embedding config entry {TEXT_FILES_KEY!r} holds no tokenizer file")
    return files


def load_tokenizer(path: str, **kwargs: Any) -> Any:
    """A fast tokenizer able to take pre-tokenized words (byte-level BPE needs a prefix space).

    Never runs code shipped with a model: ``trust_remote_code`` is always False.
    """
    from transformers import AutoTokenizer

    kwargs = {k: v for k, v in kwargs.items() if k != "trust_remote_code"}
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs, trust_remote_code=False)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelFileError(f"{path}: the encoder has no fast tokenizer (word ids are needed)")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if getattr(tokenizer, "add_prefix_space", None) is False and "ByteLevel" in repr(
        getattr(backend, "pre_tokenizer", None)
    ):
        kwargs["add_prefix_space"] = True
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs, trust_remote_code=False)
    return tokenizer


def tokenizer_from_files(files: Mapping[str, bytes]) -> Any:
    """The tokenizer the checked ``files`` describe (written to a temporary folder, loaded offline)."""
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            Path(tmp, _check_name(name, TEXT_FILES_KEY)).write_bytes(data)
        try:
            tokenizer = AutoTokenizer.from_pretrained(tmp, trust_remote_code=False)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            raise ModelFileError(f"the tokenizer files cannot be loaded: {error}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelFileError("the tokenizer files describe no fast tokenizer (word ids are needed)")
    return tokenizer


def tokenizer_from_folder(folder: str | Path) -> Any:
    """The tokenizer in ``folder`` (an ONNX export's), checked like a model file's tokenizer files."""
    text: dict[str, str] = {}
    binary: dict[str, str] = {}
    for file in sorted(Path(folder).iterdir()):
        data = file.read_bytes() if file.is_file() else b""
        try:
            text[file.name] = data.decode("utf-8")
        except UnicodeDecodeError:
            binary[file.name] = base64.b64encode(data).decode("ascii")
    return tokenizer_from_files(tokenizer_files_from_config({TEXT_FILES_KEY: text, BINARY_FILES_KEY: binary}))


def tokenizer_files_of(tokenizer: Any) -> dict[str, dict[str, str]]:
    """``{"tokenizer_files": {...}, "tokenizer_binary_files": {...}}`` for a config (the latter if any)."""
    text_files: dict[str, str] = {}
    binary_files: dict[str, str] = {}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # padding / truncation left over from the last call would otherwise be saved with the files
        # (every call sets them again, so clearing them changes nothing)
        backend.no_padding()
        backend.no_truncation()
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        for file in sorted(Path(tmp).rglob("*")):
            if not file.is_file():
                continue
            key = file.relative_to(tmp).as_posix()
            data = file.read_bytes()
            try:
                text_files[key] = data.decode("utf-8")
            except UnicodeDecodeError:
                binary_files[key] = base64.b64encode(data).decode("ascii")
    result = {TEXT_FILES_KEY: text_files}
    if binary_files:
        result[BINARY_FILES_KEY] = binary_files
    return result
