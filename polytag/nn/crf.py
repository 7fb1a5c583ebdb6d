"""A linear-chain CRF on padded ``[batch, time, tags]`` scores: batched forward algorithm and Viterbi."""

from __future__ import annotations

import torch


class CRF(torch.nn.Module):
    """Transition scores between tags plus start/end scores; loss is the negative log-likelihood."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = torch.nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start_transitions = torch.nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = torch.nn.Parameter(torch.zeros(num_tags))

    def neg_log_likelihood(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Summed NLL over the batch. ``tags`` may hold any value at padded positions."""
        emissions = emissions.float()
        tags = tags.clamp(min=0)
        has_tokens = mask[:, 0]
        return (self._log_partition(emissions, mask) - self._path_score(emissions, tags, mask))[
            has_tokens
        ].sum()

    def _path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, time, _ = emissions.shape
        maskf = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T]
        score = self.start_transitions[tags[:, 0]] + (emit * maskf).sum(1)
        if time > 1:
            trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
            score = score + (trans * maskf[:, 1:]).sum(1)
        lengths = mask.long().sum(1).clamp(min=1)
        last_tags = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        return score + self.end_transitions[last_tags]

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        alpha = self.start_transitions + emissions[:, 0]  # [B, C]
        for t in range(1, emissions.shape[1]):
            step = alpha.unsqueeze(2) + self.transitions.unsqueeze(0) + emissions[:, t].unsqueeze(1)
            new_alpha = torch.logsumexp(step, dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), new_alpha, alpha)
        return torch.logsumexp(alpha + self.end_transitions, dim=1)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-token tag marginals ``[B, T, C]`` (forward-backward), used as confidence scores."""
        emissions = emissions.float()
        batch, time, num = emissions.shape
        alphas = [self.start_transitions + emissions[:, 0]]
        for t in range(1, time):
            step = alphas[-1].unsqueeze(2) + self.transitions.unsqueeze(0) + emissions[:, t].unsqueeze(1)
            alphas.append(torch.where(mask[:, t].unsqueeze(1), torch.logsumexp(step, 1), alphas[-1]))
        end = self.end_transitions.expand(batch, num)
        betas = [end] * time
        for t in range(time - 2, -1, -1):
            step = self.transitions.unsqueeze(0) + (emissions[:, t + 1] + betas[t + 1]).unsqueeze(1)
            betas[t] = torch.where(mask[:, t + 1].unsqueeze(1), torch.logsumexp(step, dim=2), end)
        joint = torch.stack(alphas, 1) + torch.stack(betas, 1)
        return (joint - torch.logsumexp(joint, dim=2, keepdim=True)).exp()

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag sequence per sentence (lists of the sentences' real lengths)."""
        emissions = emissions.float()
        batch, time, _ = emissions.shape
        score = self.start_transitions + emissions[:, 0]
        history = []
        for t in range(1, time):
            step = score.unsqueeze(2) + self.transitions.unsqueeze(0)  # [B, from, to]
            best, idx = step.max(dim=1)
            new_score = best + emissions[:, t]
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, new_score, score)
            history.append(torch.where(keep, idx, torch.arange(self.num_tags).expand_as(idx)))
        score = score + self.end_transitions
        best_last = score.argmax(dim=1)
        lengths = mask.long().sum(1).tolist()
        paths = torch.empty(batch, time, dtype=torch.long)
        current = best_last
        paths[:, time - 1] = current
        for t in range(time - 2, -1, -1):
            current = history[t].gather(1, current.unsqueeze(1)).squeeze(1)
            paths[:, t] = current
        # with "keep" above, padded steps copy the tag forward, so the tag at length-1 is the true last tag
        out = paths.tolist()
        return [row[:n] for row, n in zip(out, lengths)]
