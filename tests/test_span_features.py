"""Surface features of (mention, candidate) pairs and NIL prediction of the SpanClassifier."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from polytag.data import Dictionary, Sentence, link_document
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models.span_classifier import SpanClassifier
from polytag.models.span_features import (
    FEATURES,
    document_words,
    pair_features,
    title_parts,
    words,
)
from polytag.nn.candidates import CandidateGenerator
from tests.test_models import train_shuffled


def _features(mention: str, entity: str, document: str = "") -> dict[str, float]:
    values = pair_features(words(mention), entity, frozenset(words(document)))
    return dict(zip(FEATURES, values))


def test_title_parts_split_off_the_parenthetical() -> None:
    assert title_parts("Ronaldo_(Brazilian_footballer)") == (("ronaldo",), ("brazilian", "footballer"))
    assert title_parts("U.S._Open_(golf)") == (("u", "s", "open"), ("golf",))
    assert title_parts("HIV/AIDS") == (("hiv", "aids"), ())


def test_pair_features_tell_the_full_name_from_the_surname_page() -> None:
    document = "Phil Mickelson won . Mickelson said the course was hard ."
    full = _features("Mickelson", "Phil_Mickelson", document)
    surname = _features("Mickelson", "Mickelson_(surname)", document)
    assert full["mention_in_title"] == 1.0 and full["title_in_mention"] == 0.0
    assert full["title_in_document"] == 1.0 and surname["title_in_document"] == 1.0
    assert surname["has_parenthetical"] == 1.0 and surname["parenthetical_in_document"] == 0.0
    assert full["word_jaccard"] == pytest.approx(0.5)
    cricket = _features("Ahmed", "Ijaz_Ahmed_(cricketer)", "Pakistan cricketer Ijaz Ahmed")
    assert cricket["parenthetical_in_document"] == 1.0
    assert _features("UN", "United_Nations")["mention_is_acronym"] == 1.0
    assert _features("USA", "United_States_of_America")["mention_is_acronym"] == 1.0
    assert _features("Japan", "Japan")["mention_is_title"] == 1.0
    assert _features("JAPAN", "Japan_national_football_team")["mention_is_title"] == 0.0


def test_document_words_cover_the_whole_document_and_nothing_else() -> None:
    first = [Sentence("SOCCER - JAPAN GET LUCKY WIN ."), Sentence("Japan beat Syria 2-1 .")]
    second = [Sentence("CRICKET - AKRAM SCORES ."), Sentence("Wasim Akram hit a century .")]
    link_document(first, document_id="1")
    link_document(second, document_id="2")
    found = document_words(first[1])
    assert {"soccer", "syria", "lucky"} <= found and not found & {"cricket", "akram"}
    assert document_words(Sentence("Alone here .")) == {"alone", "here"}


def _linker(embeddings: TransformerWordEmbeddings, **options) -> SpanClassifier:
    dictionary = Dictionary(add_unk=True)
    for item in ("Paris", "Paris_Hilton", "Berlin"):
        dictionary.add_item(item)
    table = {
        "Paris": {"Paris": 10, "Paris_Hilton": 8},
        "Berlin": {"Berlin": 10},
        "Smith": {"Smith_(surname)": 5, "Will_Smith": 4},
    }
    return SpanClassifier(
        embeddings, dictionary, span_label_type="ner", candidates=CandidateGenerator(table), **options
    )


def _ner_sentence(text: str, spans: dict[tuple[int, int], str | None]) -> Sentence:
    sentence = Sentence(text)
    for (start, end), entity in spans.items():
        sentence[start:end].add_label("ner", "X")
        if entity is not None:
            sentence[start:end].add_label("nel", entity)
    return sentence


def test_a_linker_over_ner_spans_learns_that_some_spans_link_to_nothing(tiny_encoder_dir: Path) -> None:
    """NER spans without a gold link (AIDA's NIL mentions) train a "no entity" score: after training, the
    span that was never linked stays unlinked, the others are linked; a model without ``predict_nil`` links
    every span that has candidates."""
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False)
    model = _linker(embeddings)
    assert model.predict_nil and model.nil_scorer is not None
    rng = random.Random(0)
    train = []
    for _ in range(24):
        train.append(_ner_sentence("Smith flew to Paris .", {(0, 1): None, (3, 4): "Paris"}))
        train.append(_ner_sentence("Berlin welcomed Smith .", {(0, 1): "Berlin", (2, 3): None}))
    train_shuffled(model, train, epochs=6, batch=8, lr=0.01, rng=rng)
    test = _ner_sentence("Smith visited Paris .", {(0, 1): None, (2, 3): None})
    model.predict(test, label_name="linked")
    linked = {(lab.data_point.start, lab.data_point.end): lab.value for lab in test.get_labels("linked")}
    assert linked == {(2, 3): "Paris"}
    plain = _linker(embeddings, predict_nil=False)
    assert plain.nil_scorer is None
    plain.predict(test, label_name="always")
    always = {(lab.data_point.start, lab.data_point.end) for lab in test.get_labels("always")}
    assert always == {(0, 1), (2, 3)}


def test_nil_and_feature_weights_survive_save_load_and_old_files_load_without(
    tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False)
    model = _linker(embeddings)
    with torch.no_grad():
        model.feature_weights.copy_(torch.arange(len(FEATURES), dtype=torch.float32))
        model.nil_scorer.bias.fill_(0.5)
    model.save(tmp_path / "linker.pt")
    loaded = SpanClassifier.load(tmp_path / "linker.pt")
    assert torch.equal(loaded.feature_weights, model.feature_weights)
    assert float(loaded.nil_scorer.bias.detach()) == 0.5 and loaded.predict_nil and loaded.surface_features
    # a file written before these settings existed: its config has neither key (and no such tensors)
    config = model.get_config({id(embeddings): "encoder"})
    del config["surface_features"], config["predict_nil"]
    old = SpanClassifier.from_config(json.loads(json.dumps(config)), {"encoder": embeddings})
    assert old.feature_weights is None and old.nil_scorer is None


def test_surface_features_do_not_depend_on_the_batch(tiny_encoder_dir: Path) -> None:
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False)
    model = _linker(embeddings, predict_nil=False)
    with torch.no_grad():
        model.feature_weights.normal_()
    document = [Sentence("Paris Hilton arrived ."), _ner_sentence("Paris smiled .", {(0, 1): None})]
    link_document(document, document_id="7")
    alone = _ner_sentence("Paris smiled .", {(0, 1): None})
    model.predict([document[1]], label_name="p", return_probabilities_for_all_classes=True)
    model.predict(
        [_ner_sentence("Berlin and Paris .", {(0, 1): None, (2, 3): None}), alone],
        label_name="p",
        return_probabilities_for_all_classes=True,
    )
    model.predict([alone], label_name="q", return_probabilities_for_all_classes=True)

    def scores(sentence: Sentence, name: str) -> dict[str, float]:
        return {lab.value: lab.score for lab in sentence.get_labels(name)}

    assert scores(alone, "p") == pytest.approx(scores(alone, "q"), abs=1e-5)
    # the same sentence in a document that names Paris Hilton scores her higher
    assert scores(document[1], "p")["Paris_Hilton"] != pytest.approx(scores(alone, "q")["Paris_Hilton"])
