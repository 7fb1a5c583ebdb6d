"""String <-> index maps for labels, serialisable as plain JSON (never pickled).

``Dictionary.save(path)`` writes a small JSON file (``{"format": "polytag-dictionary", "version": 1,
"items": [...], "add_unk": ..., "multi_label": ..., "span_labels": ...}``) and
``Dictionary.load_from_file(path)`` reads it back. Flair pickles dictionaries; polytag never unpickles
(a pickle can run code), so a Flair dictionary file is refused with an error that says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytag.errors import DatasetNotFoundError, FormatError

UNK = "<unk>"
FILE_FORMAT = "polytag-dictionary"
FILE_VERSION = 1
_PICKLE_FIRST_BYTE = b"\x80"
# Flair's Dictionary.load names, which it downloads
_FLAIR_HUB_NAMES = (
    "chars",
    "common-chars",
    "chars-large",
    "common-chars-large",
    "chars-xl",
    "common-chars-xl",
)


class Dictionary:
    """An ordered set of items with stable indices; ``<unk>`` first when ``add_unk`` is True."""

    def __init__(self, add_unk: bool = True) -> None:
        self.item2idx: dict[str, int] = {}
        self.idx2item: list[str] = []
        self.add_unk = add_unk
        self.multi_label = False
        self.span_labels = False
        if add_unk:
            self.add_item(UNK)

    def add_item(self, item: str) -> int:
        idx = self.item2idx.get(item)
        if idx is None:
            idx = len(self.idx2item)
            self.item2idx[item] = idx
            self.idx2item.append(item)
        return idx

    def remove_item(self, item: str) -> None:
        if item in self.item2idx:
            self.idx2item.remove(item)
            self.item2idx = {it: i for i, it in enumerate(self.idx2item)}

    def has_item(self, item: str) -> bool:
        return item in self.item2idx

    def get_idx_for_item(self, item: str) -> int:
        """Index of ``item``; unknown items map to ``<unk>`` or raise ``IndexError`` without it."""
        idx = self.item2idx.get(item)
        if idx is not None:
            return idx
        if self.add_unk:
            return 0
        raise IndexError(
            f"'{item}' is not in the dictionary and it has no <unk> (items: {self.idx2item[:20]})"
        )

    def get_idx_for_items(self, items: Iterable[str]) -> list[int]:
        return [self.get_idx_for_item(item) for item in items]

    def get_item_for_index(self, idx: int) -> str:
        return self.idx2item[idx]

    def get_items(self) -> list[str]:
        return list(self.idx2item)

    def __len__(self) -> int:
        return len(self.idx2item)

    def __contains__(self, item: object) -> bool:
        return item in self.item2idx

    def __iter__(self) -> Iterator[str]:
        return iter(self.idx2item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dictionary) and self.to_dict() == other.to_dict()

    def __str__(self) -> str:
        shown = ", ".join(self.idx2item[:30])
        more = f", ... ({len(self) - 30} more)" if len(self) > 30 else ""
        return f"Dictionary with {len(self)} tags: {shown}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": list(self.idx2item),
            "add_unk": self.add_unk,
            "multi_label": self.multi_label,
            "span_labels": self.span_labels,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dictionary:
        d = cls(add_unk=False)
        for item in data["items"]:
            d.add_item(item)
        d.add_unk = bool(data.get("add_unk", False))
        if d.add_unk and (not d.idx2item or d.idx2item[0] != UNK):
            raise ValueError("a dictionary with add_unk must have <unk> at index 0")
        d.multi_label = bool(data.get("multi_label", False))
        d.span_labels = bool(data.get("span_labels", False))
        return d

    # -- files --------------------------------------------------------------------------------
    def save(self, savefile: str | os.PathLike) -> None:
        """Write the dictionary as a JSON file (see the module docstring; Flair writes a pickle)."""
        payload = {"format": FILE_FORMAT, "version": FILE_VERSION, **self.to_dict()}
        Path(savefile).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load_from_file(cls, filename: str | os.PathLike) -> Dictionary:
        """Read a file written by :meth:`save`; anything else is a :class:`FormatError` naming the file."""
        path = Path(filename)
        raw = path.read_bytes()
        if raw[:1] == _PICKLE_FIRST_BYTE:
            raise FormatError(
                path,
                None,
                "a pickle file (Flair's Dictionary.save); polytag never unpickles, expected the JSON file "
                "of polytag's Dictionary.save (rebuild it with corpus.make_label_dictionary(...).save(path))",
            )
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FormatError(
                path, None, f"expected a JSON dictionary file from Dictionary.save ({error})"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise FormatError(
                path, None, f'expected an object with "format": "{FILE_FORMAT}" (Dictionary.save)'
            )
        if data.get("version") != FILE_VERSION:
            raise FormatError(
                path, None, f"dictionary file version {data.get('version')!r}, expected {FILE_VERSION}"
            )
        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise FormatError(path, None, 'entry "items": expected a list of strings')
        try:
            return cls.from_dict(data)
        except ValueError as error:
            raise FormatError(path, None, str(error)) from None

    @classmethod
    def load(cls, name: str | os.PathLike) -> Dictionary:
        """A dictionary file (see :meth:`load_from_file`); Flair's downloadable names are refused."""
        if str(name) in _FLAIR_HUB_NAMES and not Path(name).exists():
            raise DatasetNotFoundError(
                f"Dictionary.load({str(name)!r}): Flair downloads this character dictionary, polytag "
                "does not download; build one with Dictionary() and add_item(), or load a saved one"
            )
        return cls.load_from_file(name)
