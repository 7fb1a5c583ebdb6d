"""ZELDA's candidate lists as published: ``zelda_mention_entities_counter.pickle``, read without trusting it.

ZELDA (and Flair, which downloads it) ships its candidate lists only as a pickle of
``{mention: {entity title: count}}`` (plain dicts; ``Counter``/``defaultdict`` are accepted too).
polytag never unpickles an untrusted file with the standard loader, which runs whatever callables the
file names. This reader accepts only the pickle operations that build plain containers, strings and
numbers:

1. **Scan.** Every opcode of the file is walked first (arguments skipped by their declared sizes,
   nothing built). Refused: opcodes that build objects by calling code with attributes or state
   (``BUILD``, ``INST``, ``OBJ``, ``NEWOBJ``, ``NEWOBJ_EX``), extension-registry and persistent-id
   references, out-of-band buffers; a ``GLOBAL`` outside the allow-list; integers longer than 8 bytes
   (or 20 digits); memo indices beyond the next free slot (a ``LONG_BINPUT 4294967295`` would make the
   C unpickler allocate tens of gigabytes).
2. **Load.** The standard C unpickler loads the file with a ``find_class`` that returns only
   ``dict``, ``collections.Counter``, ``collections.defaultdict``, ``collections.OrderedDict``,
   ``int`` and ``float`` (so ``REDUCE`` can call nothing else); persistent ids are refused.
3. **Check.** The result must be a mapping of string mentions to mappings of string entities to
   finite counts >= 0; it is copied into fresh dicts. The number of (mention, entity) pairs may not
   exceed the file's size in bytes (each pair costs bytes in an honest file; a file that shares one
   inner dict among many mentions to multiply them is refused).

Errors are :class:`UnsafePickleError` (a :class:`~polytag.errors.FormatError` naming the file and,
where it applies, the byte offset of the opcode).
"""

from __future__ import annotations

import collections
import math
import mmap
import os
import pickle
import pickletools
from pathlib import Path
from typing import Any

from polytag.errors import FormatError

PathLike = str | os.PathLike
CandidateTable = dict[str, dict[str, float]]

# (module, name) -> what find_class returns: constructors of plain containers and numbers only.
SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("builtins", "dict"): dict,
    ("builtins", "int"): int,
    ("builtins", "float"): float,
    ("collections", "Counter"): collections.Counter,
    ("collections", "defaultdict"): collections.defaultdict,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
_PY2_MODULES = {"__builtin__": "builtins"}  # Python 2 pickles name the builtins module so
REFUSED_OPCODES = frozenset(
    {
        "BUILD",
        "INST",
        "OBJ",
        "NEWOBJ",
        "NEWOBJ_EX",
        "EXT1",
        "EXT2",
        "EXT4",
        "PERSID",
        "BINPERSID",
        "NEXT_BUFFER",
        "READONLY_BUFFER",
    }
)
MAX_INT_BYTES = 8
MAX_INT_DIGITS = 20
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}
_LENGTH_BYTES = {-2: 1, -3: 4, -4: 4, -5: 8}  # pickletools: argument length taken from 1/4/4/8 bytes


class UnsafePickleError(FormatError):
    """A pickle that holds more than plain containers, strings and numbers, or is damaged."""


def _opcode_table() -> dict[int, tuple[str, int | None]]:
    """Opcode byte -> (name, argument size code of pickletools: n >= 0 bytes, -1 a line, -2.. length)."""
    table = {}
    for info in pickletools.opcodes:
        table[ord(info.code)] = (info.name, None if info.arg is None else info.arg.n)
    return table


_OPCODES = _opcode_table()


def _global_name(data: Any, pos: int, end: int) -> tuple[str, str, int]:
    """The two lines ``module\\nname\\n`` of a GLOBAL opcode starting at ``pos``; returns them and the end."""
    first = data.find(b"\n", pos, end)
    second = data.find(b"\n", first + 1, end) if first >= 0 else -1
    if second < 0:
        raise ValueError("GLOBAL without its two lines")
    module = bytes(data[pos:first]).decode("utf-8", "replace")
    name = bytes(data[first + 1 : second]).decode("utf-8", "replace")
    return module, name, second + 1


def _check_global(path: Path, offset: int | None, module: str, name: str) -> Any:
    found = SAFE_GLOBALS.get((_PY2_MODULES.get(module, module), name))
    if found is None:
        where = "" if offset is None else f"byte {offset}: "
        raise UnsafePickleError(
            path,
            None,
            f"{where}refers to {module}.{name}; a candidate pickle may only build dicts, "
            "Counters, strings and numbers (nothing is imported or called)",
        )
    return found


# long: one flat loop over every opcode keeps the scan fast (it visits millions of them)
def scan_pickle(path: PathLike) -> None:
    """Walk every opcode of the pickle at ``path`` without building anything; raise on what is refused."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise UnsafePickleError(path, None, "the file is empty; expected a pickle")
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        pos = 0
        memo = 0
        table = _OPCODES
        while True:
            if pos >= size:
                raise UnsafePickleError(path, None, f"byte {pos}: the pickle ends without STOP (truncated?)")
            start = pos
            code = data[pos]
            pos += 1
            entry = table.get(code)
            if entry is None:
                raise UnsafePickleError(path, None, f"byte {start}: unknown pickle opcode {code:#04x}")
            name, n = entry
            if name in REFUSED_OPCODES:
                raise UnsafePickleError(
                    path, None, f"byte {start}: opcode {name} is refused (it builds objects by running code)"
                )
            if name == "STOP":
                return
            if name == "GLOBAL":
                try:
                    module, attr, pos = _global_name(data, pos, size)
                except ValueError:
                    raise UnsafePickleError(path, None, f"byte {start}: truncated GLOBAL") from None
                _check_global(path, start, module, attr)
                continue
            if name == "MEMOIZE":
                memo += 1
                continue
            if n is None:
                continue
            if n >= 0:
                arg = bytes(data[pos : pos + n])
                pos += n
                if len(arg) < n:
                    raise UnsafePickleError(path, None, f"byte {start}: truncated {name}")
                if name in _MEMO_PUTS or name in _MEMO_GETS:
                    index = int.from_bytes(arg, "little")
                    memo = _check_memo(path, start, name, index, memo)
                continue
            if n == -1:  # up to a newline
                end = data.find(b"\n", pos, size)
                if end < 0:
                    raise UnsafePickleError(path, None, f"byte {start}: truncated {name}")
                text = bytes(data[pos:end])
                pos = end + 1
                if name in ("INT", "LONG") and len(text.strip().rstrip(b"L")) > MAX_INT_DIGITS:
                    raise UnsafePickleError(path, None, f"byte {start}: an integer of {len(text)} digits")
                if name in _MEMO_PUTS or name in _MEMO_GETS:
                    try:
                        index = int(text)
                    except ValueError:
                        bad = f"byte {start}: bad memo index {text!r}"
                        raise UnsafePickleError(path, None, bad) from None
                    memo = _check_memo(path, start, name, index, memo)
                continue
            width = _LENGTH_BYTES[n]
            length = int.from_bytes(data[pos : pos + width], "little", signed=(n == -3))
            pos += width
            if length < 0 or pos + length > size:
                past = f"byte {start}: {name} of {length} bytes runs past the file"
                raise UnsafePickleError(path, None, past)
            if name in ("LONG1", "LONG4") and length > MAX_INT_BYTES:
                raise UnsafePickleError(
                    path, None, f"byte {start}: an integer of {length} bytes (at most {MAX_INT_BYTES})"
                )
            pos += length  # (a FRAME's 8-byte argument is fixed-size: its bytes are walked as opcodes)


def _check_memo(path: Path, offset: int, name: str, index: int, memo: int) -> int:
    """Memo indices must be the next free slot or an existing one (as ``pickle.dump`` writes them)."""
    if name in _MEMO_PUTS:
        if not 0 <= index <= memo:
            raise UnsafePickleError(
                path, None, f"byte {offset}: {name} {index} skips memo slots (next free slot is {memo})"
            )
        return max(memo, index + 1)
    if not 0 <= index < memo:
        raise UnsafePickleError(path, None, f"byte {offset}: {name} {index} reads an empty memo slot")
    return memo


class RestrictedUnpickler(pickle.Unpickler):
    """The C unpickler, able to reach only :data:`SAFE_GLOBALS` and no persistent ids."""

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        return _check_global(self.path, None, module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(self.path, None, "persistent ids are refused")


def load_restricted_pickle(path: PathLike) -> Any:
    """The object in the pickle at ``path``, built from plain containers, strings and numbers only."""
    path = Path(path)
    scan_pickle(path)
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, path).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, MemoryError, IndexError) as exc:
            raise UnsafePickleError(path, None, f"cannot be read as a pickle: {exc}") from None


def _count(path: Path, mention: str, entity: str, value: Any) -> float:
    number = float(value) if type(value) in (int, float) else math.nan
    if not (math.isfinite(number) and number >= 0.0):
        raise UnsafePickleError(
            path, None, f"mention {mention!r}, entity {entity!r}: count {value!r} is not a number >= 0"
        )
    return number


def read_mention_entities_counter(path: PathLike) -> CandidateTable:
    """``{mention: {entity: count}}`` from a pickle in the layout of ZELDA's candidate lists (safely)."""
    path = Path(path)
    loaded = load_restricted_pickle(path)
    if not isinstance(loaded, dict):
        raise UnsafePickleError(
            path, None, f"expected a mapping mention -> {{entity: count}}, got {type(loaded).__name__}"
        )
    budget = max(path.stat().st_size, 64)
    table: CandidateTable = {}
    for mention, entities in loaded.items():
        if type(mention) is not str:
            raise UnsafePickleError(path, None, f"mention {mention!r} is not a string")
        if not isinstance(entities, dict):
            raise UnsafePickleError(
                path,
                None,
                f"mention {mention!r}: expected a mapping entity -> count, got {type(entities).__name__}",
            )
        budget -= len(entities)
        if budget < 0:
            raise UnsafePickleError(
                path,
                None,
                "holds more (mention, entity) pairs than bytes: its entries share objects to multiply "
                "them (a pickle bomb?)",
            )
        row: dict[str, float] = {}
        for entity, value in entities.items():
            if type(entity) is not str:
                raise UnsafePickleError(path, None, f"mention {mention!r}: entity {entity!r} is not a string")
            row[entity] = _count(path, mention, entity, value)
        table[mention] = row
    return table
