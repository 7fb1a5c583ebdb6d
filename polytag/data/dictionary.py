"""String <-> index maps for labels, serialisable as plain JSON (never pickled)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

UNK = "<unk>"


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

    def __iter__(self):
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
