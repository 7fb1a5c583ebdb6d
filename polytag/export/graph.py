"""The torch module that is traced into ONNX: encoder, subtoken pooling and every head in one graph.

What stays outside the graph (in :mod:`polytag.export.predictor`) is everything that is not a tensor
operation on the batch: tokenizing, document context, cutting long sentences into windows, and turning
the tokenizer's word ids into gather indexes (all numpy, the same code the torch model runs), and on the
way out the label decisions (argmax, BIOES -> spans, CRF Viterbi and marginals).

Graph inputs (dynamic in every dimension):

* ``input_ids``, ``attention_mask`` ``[pieces, width]``: the encoder rows (one per sentence, or several
  per long sentence: its windows);
* ``token_source`` ``[batch, tokens, k]``: for every token slot the flat position(s) in the
  ``[pieces * width]`` hidden states to pool from; ``pieces * width`` (one past the end) points to an
  all-zero row, for padding and for tokens without a subtoken. ``k`` is 1 for ``first`` / ``last``, 2
  for ``first_last`` (first, last) and the most subtokens of a word for ``mean``;
* ``doc_source`` ``[batch, s]``: the same for the document vector (the CLS position; for ``mean`` /
  ``max`` every subtoken of the sentence);
* ``lengths`` ``[batch]``: tokens per sentence (the BiLSTM and the token mask need them).

Outputs: one per head, named ``<task>.probs`` (softmax or sigmoid probabilities) or ``<task>.emissions``
(CRF heads: the emission scores the CRF decodes).
"""

from __future__ import annotations

from typing import Any

import torch

from polytag.embeddings import TransformerEmbeddings, encoder_hidden_states


class PoolingGraph(torch.nn.Module):
    """Encoder call plus token / document pooling by gather indexes (see the module docstring)."""

    def __init__(self, embeddings: TransformerEmbeddings) -> None:
        super().__init__()
        self.encoder = embeddings.model
        self.layer_indexes = list(embeddings.layer_indexes)
        self.all_hidden_states = bool(embeddings.all_hidden_states)
        self.layer_mean = embeddings.layer_mean
        self.subtoken_pooling = embeddings.subtoken_pooling
        self.cls_pooling = embeddings.cls_pooling
        self.is_token_embedding = embeddings.is_token_embedding
        self.is_document_embedding = embeddings.is_document_embedding

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The selected layers, by the very function the torch module uses."""
        return encoder_hidden_states(
            self.encoder,
            input_ids,
            attention_mask,
            self.layer_indexes,
            self.layer_mean,
            self.all_hidden_states,
        )

    @staticmethod
    def flat_with_zero_row(hidden: torch.Tensor) -> torch.Tensor:
        """``[pieces * width + 1, H]``: the hidden states as rows plus one zero row at the end."""
        flat = hidden.reshape(-1, hidden.shape[-1])
        return torch.cat([flat, flat.new_zeros(1, flat.shape[-1])], dim=0)

    def tokens(self, flat: torch.Tensor, token_source: torch.Tensor) -> torch.Tensor:
        """``[batch, tokens, embedding_length]`` pooled token vectors."""
        batch, n_tokens, k = token_source.shape[0], token_source.shape[1], token_source.shape[2]
        picked = flat.index_select(0, token_source.reshape(-1)).reshape(batch, n_tokens, k, flat.shape[-1])
        if self.subtoken_pooling == "first_last":
            return torch.cat([picked[:, :, 0], picked[:, :, 1]], dim=-1)
        if self.subtoken_pooling == "mean":
            zero_row = flat.shape[0] - 1
            counts = (token_source != zero_row).sum(dim=2, keepdim=True).clamp(min=1).to(flat.dtype)
            return picked.sum(dim=2) / counts
        return picked[:, :, 0]

    def document(self, flat: torch.Tensor, doc_source: torch.Tensor) -> torch.Tensor:
        """``[batch, document_embedding_length]`` document vectors."""
        batch, width = doc_source.shape[0], doc_source.shape[1]
        picked = flat.index_select(0, doc_source.reshape(-1)).reshape(batch, width, flat.shape[-1])
        if self.cls_pooling == "cls":
            return picked[:, 0]
        zero_row = flat.shape[0] - 1
        valid = (doc_source != zero_row).unsqueeze(-1)
        counts = valid.sum(dim=1)
        if self.cls_pooling == "mean":
            return picked.sum(dim=1) / counts.clamp(min=1).to(flat.dtype)
        maxima = picked.masked_fill(~valid, float("-inf")).amax(dim=1)
        return maxima.masked_fill(counts == 0, 0.0)


class UnpackedBiRNN(torch.nn.Module):
    """A bidirectional LSTM / GRU on right-padded batches without packing (packing does not export).

    The forward direction ignores the padding anyway (it comes after the tokens); the backward direction
    runs a forward-only copy of the reverse weights over each sentence reversed within its own length, so
    every real position sees exactly what it sees in a packed run. Padded positions are zeroed.
    """

    def __init__(self, rnn: torch.nn.RNNBase) -> None:
        super().__init__()
        if not rnn.bidirectional or not rnn.batch_first:
            raise ValueError("only batch-first bidirectional RNNs are rebuilt")
        cls: Any = type(rnn)  # the same RNN class, one layer and one direction
        self.layers = torch.nn.ModuleList()
        for layer in range(rnn.num_layers):
            size = rnn.input_size if layer == 0 else 2 * rnn.hidden_size
            pair = torch.nn.ModuleList()
            for suffix in ("", "_reverse"):
                single = cls(size, rnn.hidden_size, num_layers=1, bias=rnn.bias, batch_first=True)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    source = getattr(rnn, f"{name}_l{layer}{suffix}", None)
                    if source is not None:
                        getattr(single, f"{name}_l0").data.copy_(source.data)
                pair.append(single)
            self.layers.append(pair)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
        size = lengths.clamp(min=1).unsqueeze(1)
        inside = steps < lengths.unsqueeze(1)
        reverse = torch.where(steps < size, size - 1 - steps, steps).unsqueeze(-1)  # [B, T, 1]
        layers: Any = self.layers  # pairs of (forward, backward) single-direction RNNs
        for forward_rnn, backward_rnn in layers:
            out_forward, _ = forward_rnn(x)
            flipped = x.gather(1, reverse.expand(-1, -1, x.shape[-1]))
            out_backward, _ = backward_rnn(flipped)
            out_backward = out_backward.gather(1, reverse.expand(-1, -1, out_backward.shape[-1]))
            x = torch.cat([out_forward, out_backward], dim=-1)
        return x * inside.unsqueeze(-1).to(x.dtype)


class TokenHeadGraph(torch.nn.Module):
    """A TokenClassifier / SequenceTagger in eval mode: features -> decoder -> probabilities or emissions."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.reprojection = getattr(head, "reprojection", None)
        rnn = getattr(head, "rnn", None)
        self.rnn = UnpackedBiRNN(rnn) if rnn is not None else None
        self.decoder: Any = head.decoder
        self.emissions = getattr(head, "crf", None) is not None

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = tokens
        if self.reprojection is not None:
            x = self.reprojection(x)
        if self.rnn is not None:
            x = self.rnn(x, lengths)
        logits = self.decoder(x)
        return logits.float() if self.emissions else logits.float().softmax(dim=-1)


class TextHeadGraph(torch.nn.Module):
    """A TextClassifier in eval mode: document vector -> decoder -> softmax (or sigmoid) probabilities."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.decoder: Any = head.decoder
        self.multi_label = bool(head.multi_label)

    def forward(self, document: torch.Tensor) -> torch.Tensor:
        logits = self.decoder(document).float()
        return logits.sigmoid() if self.multi_label else logits.softmax(dim=-1)


class ExportGraph(torch.nn.Module):
    """One encoder pass shared by all heads; returns one tensor per head, in head order."""

    def __init__(self, embeddings: TransformerEmbeddings, heads: list[tuple[str, torch.nn.Module]]) -> None:
        super().__init__()
        self.pooling = PoolingGraph(embeddings)
        self.kinds = [kind for kind, _ in heads]
        self.heads = torch.nn.ModuleList(
            TokenHeadGraph(head) if kind == "token" else TextHeadGraph(head) for kind, head in heads
        )
        self.needs_tokens = "token" in self.kinds
        self.needs_document = "text" in self.kinds

    def input_names(self) -> list[str]:
        names = ["input_ids", "attention_mask"]
        if self.needs_tokens:
            names += ["token_source", "lengths"]
        if self.needs_document:
            names.append("doc_source")
        return names

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *rest: torch.Tensor):
        given = dict(zip(self.input_names()[2:], rest))
        hidden = self.pooling.hidden_states(input_ids, attention_mask)
        flat = self.pooling.flat_with_zero_row(hidden)
        tokens = self.pooling.tokens(flat, given["token_source"]) if self.needs_tokens else None
        document = self.pooling.document(flat, given["doc_source"]) if self.needs_document else None
        outputs = []
        for kind, head in zip(self.kinds, self.heads):
            if kind == "token":
                outputs.append(head(tokens, given["lengths"]))
            else:
                outputs.append(head(document))
        return tuple(outputs)
