"""CRF against brute-force enumeration, and BIOES encoding/decoding of spans."""

from __future__ import annotations

import itertools

import torch

from polytag.data import Dictionary, Sentence
from polytag.nn.bioes import make_bioes_dictionary, span_types, spans_to_tag_ids, tags_to_spans
from polytag.nn.crf import CRF


def _random_crf(num_tags: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    score = crf.start_transitions[path[0]] + emissions[0, path[0]]
    for t in range(1, len(path)):
        score = score + crf.transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    return score + crf.end_transitions[path[-1]]


def test_crf_matches_brute_force_with_padding() -> None:
    crf = _random_crf(3, seed=1)
    lengths = [4, 2, 1]
    emissions = torch.randn(3, 4, 3)
    mask = torch.tensor([[t < n for t in range(4)] for n in lengths])
    tags = torch.randint(0, 3, (3, 4))
    nll = crf.neg_log_likelihood(emissions, tags, mask)
    expected = torch.zeros(())
    best_paths = []
    marginal_rows = []
    for b, n in enumerate(lengths):
        paths = list(itertools.product(range(3), repeat=n))
        scores = torch.stack([_path_score(crf, emissions[b, :n], p) for p in paths])
        log_z = torch.logsumexp(scores, 0)
        expected = expected + log_z - _path_score(crf, emissions[b, :n], tuple(tags[b, :n].tolist()))
        best_paths.append(list(paths[int(scores.argmax())]))
        probs = (scores - log_z).exp()
        marg = torch.zeros(n, 3)
        for p, pr in zip(paths, probs):
            for t, tag in enumerate(p):
                marg[t, tag] += pr
        marginal_rows.append(marg)
    assert torch.allclose(nll, expected, atol=1e-4)
    assert crf.viterbi(emissions, mask) == best_paths
    marginals = crf.marginals(emissions, mask)
    for b, n in enumerate(lengths):
        assert torch.allclose(marginals[b, :n], marginal_rows[b], atol=1e-5)


def test_bioes_round_trip_and_lenient_decoding() -> None:
    labels = Dictionary(add_unk=True)
    for t in ("PER", "LOC"):
        labels.add_item(t)
    assert span_types(labels) == ["PER", "LOC"]
    tags = make_bioes_dictionary(span_types(labels))
    sentence = Sentence("George Washington went to New York City today")
    sentence[0:2].add_label("ner", "PER")
    sentence[4:7].add_label("ner", "LOC")
    sentence[7:8].add_label("ner", "ORG")  # not in the dictionary -> O
    ids = spans_to_tag_ids(sentence, "ner", tags)
    names = [tags.get_item_for_index(i) for i in ids]
    assert names == ["B-PER", "E-PER", "O", "O", "B-LOC", "I-LOC", "E-LOC", "O"]
    assert tags_to_spans(names) == [(0, 2, "PER"), (4, 7, "LOC")]
    # I- after O or after another type opens a new span; S- and B- always open one
    assert tags_to_spans(["O", "I-PER", "I-LOC", "E-LOC", "S-PER", "B-X"]) == [
        (1, 2, "PER"),
        (2, 4, "LOC"),
        (4, 5, "PER"),
        (5, 6, "X"),
    ]
    # predictions are decoded leniently: E- does not close and a span takes its last token's type,
    # an E- with nothing open opens one
    assert tags_to_spans(["B-ORG", "E-LOC", "O", "S-PER", "I-PER", "E-PER", "E-LOC", "O", "E-MISC"]) == [
        (0, 2, "LOC"),
        (3, 7, "LOC"),
        (8, 9, "MISC"),
    ]
    assert tags_to_spans(["B-PER", "E-PER", "B-PER"]) == [(0, 2, "PER"), (2, 3, "PER")]
    assert tags_to_spans(["I-LOC", "I-LOC", "I-ORG", "I-ORG", "I-ORG"]) == [(0, 2, "LOC"), (2, 5, "ORG")]
