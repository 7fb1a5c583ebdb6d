"""PrototypicalDecoder: the three distances, candidate scoring, radii, initialisation, config round trip."""

from __future__ import annotations

import math

import pytest
import torch

from polytag.nn.decoder import LinearDecoder, decoder_config, decoder_from_config
from polytag.nn.prototypical import DecoderConfigError, PrototypicalDecoder


def _decoder(distance: str, **kwargs) -> PrototypicalDecoder:
    decoder = PrototypicalDecoder(3, 2, distance_function=distance, **kwargs)
    with torch.no_grad():
        decoder.prototype_vectors.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]))
    return decoder


def test_euclidean_is_squared_distance() -> None:
    scores = _decoder("euclidean")(torch.tensor([[1.0, 1.0]]))
    assert scores.tolist() == [[-1.0, -2.0, -8.0]]


def test_cosine_is_minus_cosine_similarity() -> None:
    scores = _decoder("cosine")(torch.tensor([[3.0, 0.0]]))
    assert scores[0].tolist() == pytest.approx([1.0, 0.0, -1 / math.sqrt(2)], abs=1e-6)


def test_dot_product_is_scaled_by_sqrt_of_size() -> None:
    scores = _decoder("dot_product")(torch.tensor([[2.0, 1.0]]))
    assert scores[0].tolist() == pytest.approx([2 / math.sqrt(2), 2 / math.sqrt(2), -3 / math.sqrt(2)])


@pytest.mark.parametrize("distance", ["euclidean", "cosine", "dot_product"])
def test_candidate_scores_equal_the_full_matrix_columns(distance: str) -> None:
    torch.manual_seed(0)
    decoder = PrototypicalDecoder(
        7, 5, distance_function=distance, normal_distributed_initial_prototypes=True
    )
    x = torch.randn(4, 5)
    full = decoder(x)
    ids = torch.tensor([[0, 3, 6], [1, 1, 2], [5, 4, 0], [2, 6, 3]])
    picked = decoder.score_candidates(decoder.encode(x), decoder.gather_prototypes(ids), ids)
    assert torch.allclose(picked, full.gather(1, ids), atol=1e-5)


def test_token_shaped_input_and_metric_space_map() -> None:
    decoder = PrototypicalDecoder(4, 6, prototype_size=3)
    assert decoder(torch.randn(2, 5, 6)).shape == (2, 5, 4)
    assert decoder.metric_space_decoder is not None


def test_radius_divides_distances() -> None:
    decoder = _decoder("euclidean", use_radius=True, min_radius=1.0)
    with torch.no_grad():
        decoder.prototype_radii.copy_(torch.tensor([0.0, 0.0, 100.0]))
    scores = decoder(torch.tensor([[1.0, 1.0]]))
    scale = 1.0 + math.log(2.0)  # min_radius + softplus(0)
    assert scores[0, :2].tolist() == pytest.approx([-1.0 / scale, -2.0 / scale], rel=1e-5)
    assert scores[0, 2].item() == pytest.approx(-8.0 / 101.0, rel=1e-4)


def test_unlabeled_class_gets_a_fixed_distance() -> None:
    decoder = _decoder("euclidean", unlabeled_idx=2, unlabeled_distance=0.5)
    assert decoder(torch.tensor([[1.0, 1.0]]))[0, 2].item() == -0.5
    with pytest.raises(DecoderConfigError):
        PrototypicalDecoder(3, 2, unlabeled_idx=2)


def test_learning_modes_stop_gradients() -> None:
    x = torch.randn(3, 2, requires_grad=True)
    decoder = _decoder("euclidean", learning_mode="learn_only_prototypes")
    decoder(x).sum().backward()
    assert x.grad is None and decoder.prototype_vectors.grad is not None
    decoder = _decoder("euclidean", learning_mode="learn_only_embeddings_and_map")
    decoder(x).sum().backward()
    assert x.grad is not None and decoder.prototype_vectors.grad is None


def test_initialize_prototypes_from_class_means() -> None:
    decoder = PrototypicalDecoder(3, 2)
    vectors = torch.tensor([[1.0, 1.0], [3.0, 1.0], [0.0, 4.0], [9.0, 9.0]])
    labels = torch.tensor([0, 0, 2, -1])
    have = decoder.initialize_prototypes(vectors, labels)
    assert have.tolist() == [True, False, True]
    assert decoder.prototype_vectors.tolist() == [[2.0, 1.0], [1.0, 1.0], [0.0, 4.0]]  # class 1 untouched


def test_bad_settings_raise_polytag_errors() -> None:
    with pytest.raises(DecoderConfigError):
        PrototypicalDecoder(3, 2, distance_function="manhattan")
    with pytest.raises(DecoderConfigError):
        PrototypicalDecoder(3, 2, learning_mode="sometimes")


def test_config_round_trip_keeps_behaviour() -> None:
    decoder = PrototypicalDecoder(5, 4, prototype_size=3, distance_function="cosine", use_radius=True)
    config = decoder_config(decoder)
    copy = decoder_from_config(config)
    copy.load_state_dict(decoder.state_dict())
    x = torch.randn(2, 4)
    assert torch.allclose(copy(x), decoder(x))
    linear = torch.nn.Linear(4, 3)
    rebuilt = decoder_from_config(decoder_config(linear))
    assert isinstance(rebuilt, LinearDecoder) and rebuilt.weight.shape == (3, 4)
    rebuilt.load_state_dict(linear.state_dict())
    assert torch.allclose(rebuilt(x), linear(x))
    assert decoder_config(torch.nn.Sequential()) is None
