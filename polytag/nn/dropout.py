"""Flair's two sequence dropouts, for ported heads: :class:`LockedDropout` and :class:`WordDropout`.

Both take ``[batch, time, features]`` tensors (``LockedDropout`` also ``[time, batch, features]`` with
``batch_first=False``) and are the identity in eval mode or with a rate of 0.
"""

from __future__ import annotations

import torch


def _check_rate(dropout_rate: float) -> float:
    rate = float(dropout_rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
    return rate


class LockedDropout(torch.nn.Module):
    """Drops the same feature positions at every time step of a sequence (one mask per sequence).

    In training each (sequence, feature) is kept with probability ``1 - dropout_rate`` and the kept
    values are scaled by ``1 / (1 - dropout_rate)``, as in Flair: the mask has shape ``[B, 1, D]``
    (``[1, B, D]`` when ``batch_first=False``). ``inplace`` multiplies the input itself.
    """

    def __init__(self, dropout_rate: float = 0.5, batch_first: bool = True, inplace: bool = False) -> None:
        super().__init__()
        self.dropout_rate = _check_rate(dropout_rate)
        self.batch_first = batch_first
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.dropout_rate:
            return x
        keep = 1.0 - self.dropout_rate
        if self.batch_first:
            shape = (x.size(0), 1, x.size(2))
        else:
            shape = (1, x.size(1), x.size(2))
        mask = x.new_empty(shape).bernoulli_(keep).div_(keep)
        return x.mul_(mask) if self.inplace else x * mask

    def extra_repr(self) -> str:
        return f"p={self.dropout_rate}" + (", inplace" if self.inplace else "")


class WordDropout(torch.nn.Module):
    """Zeroes whole time steps (word vectors) with probability ``dropout_rate`` (mask ``[B, T, 1]``).

    As in Flair the kept vectors are *not* rescaled: the network sees a missing word, not a louder
    one. ``inplace`` multiplies the input itself.
    """

    def __init__(self, dropout_rate: float = 0.05, inplace: bool = False) -> None:
        super().__init__()
        self.dropout_rate = _check_rate(dropout_rate)
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.dropout_rate:
            return x
        mask = x.new_empty(x.size(0), x.size(1), 1).bernoulli_(1.0 - self.dropout_rate)
        return x.mul_(mask) if self.inplace else x * mask

    def extra_repr(self) -> str:
        return f"p={self.dropout_rate}" + (", inplace" if self.inplace else "")
