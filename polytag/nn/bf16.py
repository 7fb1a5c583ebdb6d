"""bfloat16 inference for the encoder's linear layers, with the residual stream left in float32.

Every plain ``torch.nn.Linear`` of the encoder becomes a :class:`BF16Linear`: bfloat16 weights, the
input cast to bfloat16, the product summed in float32 by oneDNN (AMX or AVX512-BF16 on CPUs that have
them) and returned in bfloat16. Whatever consumes a bf16 output decides the next precision by PyTorch's
type promotion: in a BERT-like layer the attention (Q, K, V are bf16) and the feed-forward activation
(GELU on the bf16 up-projection) run in bf16, while ``dense(x) + residual`` promotes back to float32, so
the residual stream, every LayerNorm, the encoder's output and the heads stay float32.

Why this split: the linear layers are ~65 % of float32 prediction time on MiniLM (profile in
``bench/reduced_inference.py --profile``) and bf16 GEMMs on AMX are several times faster; the float32
residual stream keeps outputs close to float32 ones. A bf16 matrix product with K <= 384 gives each row
the same bits whatever the other rows are (wider ones are sliced, see ``EXACT_ROWS_MAX_K``), and
attention runs over each sequence's own length (``polytag.embeddings.packed``), so a sentence's vectors do
not depend on its batch. A BERT-style self-attention gets Q, K and V from one fused product.

On a CPU without native bf16 (no ``avx512_bf16``/``amx_bf16``), bf16 products are emulated and slower
than float32: :func:`warn_if_slow_bf16` says so once.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger("polytag")

_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
# oneDNN's bf16 GEMM picks its reduction order by the number of rows once the inner dimension K is larger
# than this (measured on AMX: K <= 384 gave the same bits for every row count from 1 to 1,200; K = 512 and
# 768 did not, from 36-41 rows on). Wider layers are summed over slices of this size in float32.
EXACT_ROWS_MAX_K = 384
_warned = False


class BF16Linear(torch.nn.Module):
    """A frozen ``torch.nn.Linear`` with bfloat16 weights; returns bfloat16 whatever its input dtype.

    ``activation="gelu"`` applies the exact (erf) GELU to the output inside the same oneDNN call: a
    separate bf16 GELU costs more than the fp32 one, the fused one almost nothing. Where oneDNN is there
    the weights are also pre-packed once (at the first call) into its blocked layout, and the bias is
    added in the kernel instead of being copied into the output first.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: torch.nn.Linear, activation: str = "none") -> None:
        super().__init__()
        if activation not in ("none", "gelu"):
            raise ValueError(f"activation must be 'none' or 'gelu', got {activation!r}")
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.activation = activation
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16).clone())
        bias = linear.bias.detach().to(torch.bfloat16).clone() if linear.bias is not None else None
        self.register_buffer("bias", bias)
        self._packed: torch.Tensor | None = None  # oneDNN's opaque layout: not a buffer, not copied
        self._slices: torch.Tensor | None = None  # a wide layer's weight as [slices, K slice, out]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_packed"] = None  # an opaque oneDNN tensor cannot be copied or pickled; packed again
        state["_slices"] = None
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.bfloat16)
        if self.in_features > EXACT_ROWS_MAX_K:
            return self._chunked(x)
        if _onednn_bf16() and x.device.type == "cpu" and x.numel() > 0:
            if self._packed is None:
                self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight, 1024)
            return torch.ops.mkldnn._linear_pointwise(x, self._packed, self.bias, self.activation, [], "none")
        out = torch.nn.functional.linear(x, self.weight, self.bias)
        return torch.nn.functional.gelu(out) if self.activation == "gelu" else out

    def _chunked(self, x: torch.Tensor) -> torch.Tensor:
        """The product as a float32 sum of bf16 products over input slices of at most
        ``EXACT_ROWS_MAX_K`` features, in a fixed order, so that each row's result has the same bits
        whatever the number of rows (see ``EXACT_ROWS_MAX_K``); returns float32."""
        pad = -self.in_features % EXACT_ROWS_MAX_K
        if self._slices is None:  # [slices, K slice, out]: one batched product over all slices
            weight = F.pad(self.weight, (0, pad)) if pad else self.weight
            sliced = weight.reshape(self.out_features, -1, EXACT_ROWS_MAX_K)
            self._slices = sliced.permute(1, 2, 0).contiguous()
        rows = x.reshape(-1, self.in_features)
        if pad:
            rows = F.pad(rows, (0, pad))
        pieces = rows.reshape(rows.shape[0], self._slices.shape[0], EXACT_ROWS_MAX_K).transpose(0, 1)
        out = torch.bmm(pieces, self._slices).float().sum(0).reshape(*x.shape[:-1], -1)
        if self.bias is not None:
            out = out.add_(self.bias.float())
        return torch.nn.functional.gelu(out) if self.activation == "gelu" else out

    def extra_repr(self) -> str:
        fused = ", fused GELU" if self.activation == "gelu" else ""
        return f"in_features={self.in_features}, out_features={self.out_features}, bfloat16{fused}"


@functools.cache
def _onednn_bf16() -> bool:
    """Whether oneDNN's packed bf16 linear kernels are there (else plain ``F.linear`` in bf16)."""
    mkldnn = torch.backends.mkldnn
    ops = torch.ops.mkldnn
    return bool(
        mkldnn.is_available()
        and hasattr(ops, "_linear_pointwise")
        and hasattr(ops, "_reorder_linear_weight")
        and ops._is_mkldnn_bf16_supported()
    )


def _is_exact_gelu(module: torch.nn.Module) -> bool:
    """Whether ``module`` is the exact (erf) GELU: ``torch.nn.GELU()`` or transformers' ``GELUActivation``."""
    if isinstance(module, torch.nn.GELU):
        return module.approximate == "none"
    return type(module).__name__ == "GELUActivation" and getattr(module, "act", None) is F.gelu


def bf16_linear_layers(module: torch.nn.Module) -> int:
    """Replace every plain ``torch.nn.Linear`` inside ``module`` by a :class:`BF16Linear` (in place).

    A BERT-style feed-forward block (a ``dense`` Linear followed by an exact-GELU
    ``intermediate_act_fn``: BERT, RoBERTa, XLM-R, ELECTRA, MiniLM) gets the GELU fused into its linear
    layer and the activation module replaced by ``Identity``. Returns how many linear layers were
    replaced. Subclasses of Linear (e.g. a head's ``LinearDecoder``) are left alone.
    """
    replaced = 0
    for parent in list(module.modules()):
        if _fuse_qkv(parent):
            replaced += 3
            continue
        dense, act = getattr(parent, "dense", None), getattr(parent, "intermediate_act_fn", None)
        fuse = type(dense) is torch.nn.Linear and act is not None and _is_exact_gelu(act)
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear:
                activation = "gelu" if fuse and name == "dense" else "none"
                setattr(parent, name, BF16Linear(child, activation))
                replaced += 1
        if fuse:
            parent.intermediate_act_fn = torch.nn.Identity()
    return replaced


class _FusedQKV:
    """Mixed into a BERT-style self-attention: Q, K and V from one bf16 product (one input cast, one
    kernel; 1.2-4x faster than three on MiniLM shapes, measured), then the encoder's attention function."""

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Any = None,  # an encoder's: always None
        encoder_hidden_states: Any = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, None]:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        me: Any = self
        shape = (*hidden_states.shape[:-1], -1, me.attention_head_size)
        query, key, value = me.qkv(hidden_states).split(me.all_head_size, dim=-1)
        attend = ALL_ATTENTION_FUNCTIONS[me.config._attn_implementation]
        out, _ = attend(
            me,
            query.view(shape).transpose(1, 2),
            key.view(shape).transpose(1, 2),
            value.view(shape).transpose(1, 2),
            attention_mask,
            dropout=0.0,
            scaling=me.scaling,
            **kwargs,
        )
        return out.reshape(*hidden_states.shape[:-1], -1).contiguous(), None


def _fuse_qkv(attention: torch.nn.Module) -> bool:
    """Give a BERT-style encoder self-attention (``query``/``key``/``value`` Linears, no cache, no
    cross-attention) one fused :class:`BF16Linear` ``qkv``; returns whether it did."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    parts: list[Any] = [getattr(attention, name, None) for name in ("query", "key", "value")]
    config = getattr(attention, "config", None)
    if (
        not type(attention).__name__.endswith("SelfAttention")
        or not all(type(part) is torch.nn.Linear and part.bias is not None for part in parts)
        or getattr(attention, "is_decoder", True)
        or getattr(config, "_attn_implementation", None) not in ALL_ATTENTION_FUNCTIONS
        or not all(hasattr(attention, name) for name in ("attention_head_size", "all_head_size", "scaling"))
    ):
        return False
    fused = torch.nn.Linear(parts[0].in_features, sum(part.out_features for part in parts))
    with torch.no_grad():
        fused.weight.copy_(torch.cat([part.weight for part in parts]))
        fused.bias.copy_(torch.cat([part.bias for part in parts if part.bias is not None]))
    for name in ("query", "key", "value"):
        delattr(attention, name)
    attention.qkv = BF16Linear(fused)
    cls = type(attention)
    if cls not in _FUSED_CLASSES:
        _FUSED_CLASSES[cls] = type(f"FusedQKV{cls.__name__}", (_FusedQKV, cls), {})
    attention.__class__ = _FUSED_CLASSES[cls]
    return True


_FUSED_CLASSES: dict[type, type] = {}


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool | None:
    """Whether the CPU has AMX-BF16 or AVX512-BF16 (None when ``cpuinfo`` cannot be read)."""
    try:
        flags = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return any(flag in flags.split() for flag in _BF16_CPU_FLAGS)


def warn_if_slow_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Log once (per process) when bf16 products would be emulated; returns whether it warned now."""
    global _warned
    if _warned or cpu_has_native_bf16(cpuinfo) is not False:
        return False
    _warned = True
    log.warning(
        "quantize='bf16': this CPU has no AMX-BF16 or AVX512-BF16 (%s), so bfloat16 products are "
        "emulated and prediction is slower than float32 (the measured 2-3x gain needs AMX); "
        "use quantize='int8' or float32 on this machine",
        torch.backends.cpu.get_cpu_capability(),
    )
    return True
