"""Attention over each sequence's own length, and the packed encoder pass that it makes possible.

Two costs of a padded batch ``[rows, width]`` at inference:

- **Batch dependence.** Attention over a longer padded length moves values by float32 rounding (~1e-7);
  in bf16 such a move can cross a bf16 step, so a sentence's labels could depend on how long the other
  sentences of its batch are (4 of 3,453 CoNLL-03 test sentences did). :func:`unpadded_attention` attends
  every sequence exactly as it would be attended alone (same shapes, same kernel, no mask).
- **Padding work.** Every linear layer also runs on the padding. A batch whose sentences arrive in any
  order (a server's) pads far more than a length-sorted one. :func:`packed_hidden_states` puts the real
  subtokens of all rows into one row ``[1, total]``, with each sequence's own position ids, so the
  linear layers see only real subtokens; attention splits the row back into its sequences.

Both are for BERT-style encoders loaded for inference (``Model.load(..., quantize="bf16")`` switches them
on). Only BERT and ELECTRA (absolute positions counted from 0, token type 0) are packed; other encoders
that take the attention keep their padded rows.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

UNPADDED_ATTENTION = "polytag_unpadded"
_PLUGGABLE = ("bert", "roberta", "xlm-roberta", "electra", "camembert")
_PACKABLE = ("bert", "electra")  # positions 0..n-1 and token type 0 for a single sequence


def unpadded_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Scaled dot-product attention over each sequence's own length; sequences of one length share a call.

    ``query`` etc. are ``[batch, heads, length, dim]``, right-padded, or, in a packed pass, ``[1, heads,
    total, dim]`` with ``cu_seq_lens_q`` (the sequences' start offsets and the total) among ``kwargs``.
    Returns ``[batch, length, heads, dim]``.
    """
    if module.training or _tracing():  # dropout, and graphs without data-dependent Python loops
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    offsets = kwargs.get("cu_seq_lens_q")
    if offsets is not None:
        return _packed_attention(query, key, value, offsets, scaling), None
    batch, heads, length, _ = query.shape
    if attention_mask is None:
        lengths = [key.shape[2]] * batch
    else:
        keep = attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0
        lengths = keep.reshape(batch, -1, keep.shape[-1])[:, 0, :].sum(-1).tolist()
    out = query.new_zeros(batch, length, heads, value.shape[-1])
    groups: dict[int, list[int]] = {}
    for row, size in enumerate(lengths):
        if size > 0:
            groups.setdefault(int(size), []).append(row)
    for size, rows in groups.items():
        index = torch.tensor(rows, device=query.device)
        part = F.scaled_dot_product_attention(
            query.index_select(0, index)[:, :, :size].contiguous(),
            key.index_select(0, index)[:, :, :size].contiguous(),
            value.index_select(0, index)[:, :, :size].contiguous(),
            scale=scaling,
        )
        out[index, :size] = part.transpose(1, 2)
    return out, None


def _tracing() -> bool:
    return bool(torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling())


def _packed_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, offsets: torch.Tensor, scaling: float | None
) -> torch.Tensor:
    """Attention of a packed row ``[1, heads, total, dim]`` split at ``offsets``; ``[1, total, heads, d]``."""
    _, heads, total, _ = query.shape
    bounds = offsets.tolist()
    groups: dict[int, list[int]] = {}
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end > start:
            groups.setdefault(end - start, []).append(start)
    out = query.new_empty(total, heads, value.shape[-1])
    q, k, v = query[0], key[0], value[0]  # [heads, total, dim]
    for size, starts in groups.items():
        if len(starts) == 1:  # a slice, no gather
            where = slice(starts[0], starts[0] + size)
            part = F.scaled_dot_product_attention(
                q[None, :, where], k[None, :, where], v[None, :, where], scale=scaling
            )
            out[where] = part[0].transpose(0, 1)
            continue
        n = len(starts)
        if starts[-1] - starts[0] == (n - 1) * size:  # one run of neighbours (length-sorted input): views
            where = slice(starts[0], starts[0] + n * size)
            part = F.scaled_dot_product_attention(
                _split(q[:, where], size), _split(k[:, where], size), _split(v[:, where], size), scale=scaling
            )
            out[where] = part.transpose(1, 2).reshape(-1, heads, part.shape[-1])
            continue
        first = torch.tensor(starts, device=query.device)[:, None]
        index = (first + torch.arange(size, device=query.device)).view(-1)
        part = F.scaled_dot_product_attention(
            _gather(q, index, size), _gather(k, index, size), _gather(v, index, size), scale=scaling
        )
        out.index_copy_(0, index, part.transpose(1, 2).reshape(-1, heads, part.shape[-1]))
    return out[None]


def _split(x: torch.Tensor, size: int) -> torch.Tensor:
    """``[heads, n * size, dim]`` as ``[n, heads, size, dim]`` (a view)."""
    heads, _, dim = x.shape
    return x.view(heads, -1, size, dim).transpose(0, 1)


def _gather(x: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """``[heads, total, dim]`` at ``index`` (sequences of ``size`` positions) as ``[n, heads, size, dim]``."""
    heads, _, dim = x.shape
    return x.index_select(1, index).view(heads, -1, size, dim).transpose(0, 1).contiguous()


def use_unpadded_attention(module: torch.nn.Module) -> int:
    """Switch every BERT-like Hugging Face encoder inside ``module`` to :func:`unpadded_attention`;
    returns how many were switched (others keep their attention)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    AttentionInterface.register(UNPADDED_ATTENTION, unpadded_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(UNPADDED_ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    switched = 0
    for child in module.modules():
        config = getattr(child, "config", None)
        switch = getattr(child, "set_attn_implementation", None)
        if callable(switch) and getattr(config, "model_type", None) in _PLUGGABLE:
            switch(UNPADDED_ATTENTION)
            switched += 1
    return switched


def can_pack(encoder: torch.nn.Module) -> bool:
    """Whether :func:`packed_hidden_states` may run ``encoder``: an inference-mode BERT or ELECTRA whose
    attention is :func:`unpadded_attention`, outside a traced or exported graph."""
    config = getattr(encoder, "config", None)
    return (
        not encoder.training
        and not _tracing()
        and getattr(config, "_attn_implementation", None) == UNPADDED_ATTENTION
        and getattr(config, "model_type", None) in _PACKABLE
    )


def bucket_rows(total: int) -> int:
    """``total`` rounded up to a multiple of 16, or of a sixteenth of the power of two above it (from 256 on).

    Why: oneDNN builds a kernel for every new row count of a bf16 product (~2.5 ms each, measured), and
    a packed pass has a new row count almost every batch; with these buckets a run meets a few dozen
    sizes, each built once, at a cost of at most 1/8 more rows. Extra rows change no other row's bits (the
    products are row-exact, see ``polytag.nn.bf16``).
    """
    step = max(16, (1 << max(total - 1, 1).bit_length()) // 16)
    return -(-total // step) * step


def packed_hidden_states(
    encoder: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, all_hidden_states: bool
) -> tuple[torch.Tensor, ...]:
    """The encoder's hidden states for right-padded rows, computed on the real subtokens only.

    Returns the last layer (or every layer with ``all_hidden_states``) as ``[1, total, hidden]`` packed
    tensors; :func:`unpack` puts a selected one back into the rows' padded shape. Each row keeps its own
    position ids (0, 1, ...) and token type 0, so it is encoded as it would be alone. The packed row is
    filled up to :func:`bucket_rows` with one-token filler sequences, cut off again on return.
    """
    keep = attention_mask.reshape(-1).bool()
    flat = keep.nonzero().squeeze(1)
    total = int(flat.numel())
    filler = bucket_rows(total) - total
    lengths = attention_mask.sum(1)
    if filler:
        lengths = torch.cat([lengths, lengths.new_ones(filler)])
    offsets = F.pad(lengths.cumsum(0), (1, 0))
    positions = (attention_mask.cumsum(1) - 1).reshape(-1).index_select(0, flat)
    ids = input_ids.reshape(-1).index_select(0, flat)
    if filler:
        positions = F.pad(positions, (0, filler))
        ids = F.pad(ids, (0, filler), value=int(input_ids.reshape(-1)[0]) if input_ids.numel() else 0)
    output = encoder(
        input_ids=ids[None],
        position_ids=positions[None],
        token_type_ids=torch.zeros_like(ids)[None],
        output_hidden_states=all_hidden_states,
        return_dict=True,
        cu_seq_lens_q=offsets,
        cu_seq_lens_k=offsets,
    )
    states = tuple(output.hidden_states) if all_hidden_states else (output.last_hidden_state,)
    return tuple(state[:, :total] for state in states)


def unpack(packed: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``[1, total, hidden]`` back to ``[rows, width, hidden]``, with zeros at the padding."""
    rows, width = attention_mask.shape
    flat = attention_mask.reshape(-1).bool().nonzero().squeeze(1)
    out = packed.new_zeros(rows * width, packed.shape[-1])
    return out.index_copy_(0, flat, packed[0]).view(rows, width, -1)
