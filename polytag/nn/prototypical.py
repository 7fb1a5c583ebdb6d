"""PrototypicalDecoder: a class is a learned point (its prototype); the score is minus a distance.

Distances (``distance_function``), all computed batched on tensors:

* ``"euclidean"``: squared Euclidean distance;
* ``"cosine"``: minus the cosine similarity (so in [-1, 1]);
* ``"dot_product"``: minus the dot product divided by sqrt(prototype size) (a scaled dot product).

Options follow Flair's decoder of the same name: a learned map into a smaller prototype space
(``prototype_size``), a learned radius per prototype that divides its distances (``use_radius``, with
``min_radius``), a fixed distance for one "unlabeled" class, which parts learn (``learning_mode``), and
normally distributed instead of all-ones initial prototypes. Prototypes can also be set to the mean of
their training vectors (:meth:`initialize_prototypes`), which starts training from a sensible point.

Besides scoring against every prototype (``forward``), the decoder scores each input only against its
own small set of vectors (:meth:`score_candidates`), which is what candidate-restricted entity linking
needs: no [inputs x all classes] matrix is ever built there.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from polytag.errors import PolytagError

DISTANCES = ("euclidean", "cosine", "dot_product")
LEARNING_MODES = (
    "joint",
    "learn_only_prototypes",
    "learn_only_embeddings_and_map",
    "learn_only_map_and_prototypes",
)


class DecoderConfigError(PolytagError, ValueError):
    """A decoder setting that cannot work (unknown distance or learning mode, bad sizes)."""


def pairwise_distance(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distances of every row of ``a`` ``[..., N, D]`` to every row of ``b`` ``[M, D]``: ``[..., N, M]``."""
    if kind == "euclidean":
        # |a|^2 - 2ab + |b|^2 through one matmul; clamped because rounding can dip below zero
        squared = (a * a).sum(-1, keepdim=True) - 2.0 * (a @ b.transpose(-1, -2)) + (b * b).sum(-1)
        return squared.clamp_min(0.0)
    if kind == "cosine":
        return -(torch.nn.functional.normalize(a, dim=-1) @ torch.nn.functional.normalize(b, dim=-1).T)
    if kind == "dot_product":
        return -(a @ b.transpose(-1, -2)) / math.sqrt(a.shape[-1])
    raise DecoderConfigError(f"distance_function must be one of {DISTANCES}, got {kind!r}")


def matched_distance(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distances of each row of ``a`` ``[N, D]`` to its own vectors ``b`` ``[N, K, D]``: ``[N, K]``."""
    if kind == "euclidean":
        return (b - a.unsqueeze(1)).pow(2).sum(-1)
    if kind == "cosine":
        a_unit = torch.nn.functional.normalize(a, dim=-1).unsqueeze(-1)
        return -torch.bmm(torch.nn.functional.normalize(b, dim=-1), a_unit).squeeze(-1)
    if kind == "dot_product":
        return -torch.bmm(b, a.unsqueeze(-1)).squeeze(-1) / math.sqrt(a.shape[-1])
    raise DecoderConfigError(f"distance_function must be one of {DISTANCES}, got {kind!r}")


class PrototypicalDecoder(torch.nn.Module):
    """Scores = minus the distance of the (mapped) input to each class prototype.

    ``forward(x)`` takes ``[..., embeddings_size]`` and returns ``[..., num_prototypes]``, so it drops in
    wherever a linear decoder is used (token, text and span heads).
    """

    def __init__(
        self,
        num_prototypes: int,
        embeddings_size: int,
        prototype_size: int | None = None,
        distance_function: str = "euclidean",
        use_radius: bool | None = False,
        min_radius: float | None = 0,
        unlabeled_distance: float | None = None,
        unlabeled_idx: int | None = None,
        learning_mode: str | None = "joint",
        normal_distributed_initial_prototypes: bool = False,
    ) -> None:
        super().__init__()
        distance_function = str(distance_function).lower()
        if distance_function not in DISTANCES:
            raise DecoderConfigError(
                f"distance_function must be one of {DISTANCES}, got {distance_function!r}"
            )
        learning_mode = learning_mode or "joint"
        if learning_mode not in LEARNING_MODES:
            raise DecoderConfigError(f"learning_mode must be one of {LEARNING_MODES}, got {learning_mode!r}")
        if num_prototypes < 1 or embeddings_size < 1:
            raise DecoderConfigError(
                f"need num_prototypes >= 1 and embeddings_size >= 1, got {num_prototypes}, {embeddings_size}"
            )
        if (unlabeled_idx is None) != (unlabeled_distance is None):
            raise DecoderConfigError("unlabeled_idx and unlabeled_distance must be given together")
        prototype_size = int(prototype_size or embeddings_size)
        self.embeddings_size = int(embeddings_size)
        self.prototype_size = prototype_size
        self.distance_function = distance_function
        self.learning_mode = learning_mode
        self.min_radius = float(min_radius or 0.0)
        self.unlabeled_idx = unlabeled_idx
        self.unlabeled_distance = unlabeled_distance
        self.normal_distributed_initial_prototypes = bool(normal_distributed_initial_prototypes)
        self.metric_space_decoder: torch.nn.Linear | None = None
        if prototype_size != embeddings_size:
            self.metric_space_decoder = torch.nn.Linear(embeddings_size, prototype_size)
            torch.nn.init.xavier_uniform_(self.metric_space_decoder.weight)
        initial = (
            torch.randn(num_prototypes, prototype_size)
            if normal_distributed_initial_prototypes
            else torch.ones(num_prototypes, prototype_size)
        )
        self.prototype_vectors = torch.nn.Parameter(initial)
        self.prototype_radii = torch.nn.Parameter(torch.ones(num_prototypes)) if use_radius else None

    @property
    def num_prototypes(self) -> int:
        return int(self.prototype_vectors.shape[0])

    # -- pieces ----------------------------------------------------------------------------------------
    def encode(self, embedded: torch.Tensor) -> torch.Tensor:
        """Map inputs into prototype space (identity unless ``prototype_size`` differs)."""
        if self.learning_mode == "learn_only_map_and_prototypes":
            embedded = embedded.detach()
        encoded = self.metric_space_decoder(embedded) if self.metric_space_decoder is not None else embedded
        if self.learning_mode == "learn_only_prototypes":
            encoded = encoded.detach()
        return encoded

    def _prototypes(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        prototypes: torch.Tensor = self.prototype_vectors
        radii: torch.Tensor | None = self.prototype_radii
        if self.learning_mode == "learn_only_embeddings_and_map":
            prototypes = prototypes.detach()
            radii = None if radii is None else radii.detach()
        return prototypes, radii

    def _radius_scale(self, radii: torch.Tensor) -> torch.Tensor:
        return self.min_radius + torch.nn.functional.softplus(radii)

    # -- scoring ---------------------------------------------------------------------------------------
    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        """``[..., embeddings_size]`` -> scores ``[..., num_prototypes]`` against every prototype."""
        return self.score_all(self.encode(embedded))

    def score_all(self, encoded: torch.Tensor) -> torch.Tensor:
        """Scores of already :meth:`encode`-d inputs ``[..., P]`` against every prototype."""
        prototypes, radii = self._prototypes()
        distance = pairwise_distance(self.distance_function, encoded, prototypes.to(encoded.dtype))
        if radii is not None:
            distance = distance / self._radius_scale(radii).to(distance.dtype)
        if self.unlabeled_distance is not None:
            distance = distance.clone()
            distance[..., self.unlabeled_idx] = self.unlabeled_distance
        return -distance

    def score_candidates(
        self,
        encoded: torch.Tensor,
        vectors: torch.Tensor,
        prototype_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scores of ``encoded`` ``[N, P]`` (already :meth:`encode`-d) against its ``vectors`` ``[N, K, P]``.

        ``prototype_ids`` ``[N, K]`` (-1 where a vector is no prototype) applies the learned radii of the
        prototypes the vectors stand for; other vectors use radius 1 (softplus-free).
        """
        distance = matched_distance(self.distance_function, encoded, vectors)
        if self.prototype_radii is not None and prototype_ids is not None:
            _, radii = self._prototypes()
            assert radii is not None  # prototype_radii is set, so _prototypes returns radii
            scale = self._radius_scale(radii)[prototype_ids.clamp_min(0)]
            distance = distance / torch.where(prototype_ids >= 0, scale, torch.ones_like(scale))
        if self.unlabeled_distance is not None and prototype_ids is not None:
            assert self.unlabeled_idx is not None  # set together with unlabeled_distance
            unlabeled = torch.eq(prototype_ids, self.unlabeled_idx)
            distance = distance.masked_fill(unlabeled, float(self.unlabeled_distance))
        return -distance

    def gather_prototypes(self, ids: torch.Tensor) -> torch.Tensor:
        """Prototype vectors of ``ids`` (any shape) -> ``[*ids.shape, P]``; ids < 0 give zero vectors."""
        prototypes, _ = self._prototypes()
        picked = prototypes[ids.clamp_min(0)]
        return picked * (ids >= 0).unsqueeze(-1).to(picked.dtype)

    @torch.no_grad()
    def initialize_prototypes(self, vectors: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
        """Set each prototype that has examples to the mean of its (encoded) ``vectors`` ``[n, E]``.

        ``label_ids`` ``[n]`` names each vector's class (ids < 0 are skipped). Returns a bool mask of the
        prototypes that were set; the others keep their values.
        """
        keep = label_ids >= 0
        encoded = self.encode(vectors[keep].to(self.prototype_vectors.dtype))
        ids = label_ids[keep].to(torch.long).to(encoded.device)
        sums = torch.zeros_like(self.prototype_vectors).index_add_(0, ids, encoded)
        counts = torch.bincount(ids, minlength=self.num_prototypes).to(sums.dtype)
        have = counts > 0
        self.prototype_vectors[have] = sums[have] / counts[have].unsqueeze(-1)
        return have

    # -- settings --------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable); the prototypes themselves are in the state dict."""
        return {
            "class": type(self).__name__,
            "num_prototypes": self.num_prototypes,
            "embeddings_size": self.embeddings_size,
            "prototype_size": self.prototype_size,
            "distance_function": self.distance_function,
            "use_radius": self.prototype_radii is not None,
            "min_radius": self.min_radius,
            "unlabeled_distance": self.unlabeled_distance,
            "unlabeled_idx": self.unlabeled_idx,
            "learning_mode": self.learning_mode,
            "normal_distributed_initial_prototypes": self.normal_distributed_initial_prototypes,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PrototypicalDecoder:
        options = {k: v for k, v in config.items() if k != "class"}
        return cls(**options)

    def extra_repr(self) -> str:
        return (
            f"num_prototypes={self.num_prototypes}, prototype_size={self.prototype_size}, "
            f"distance={self.distance_function!r}, radius={self.prototype_radii is not None}"
        )
