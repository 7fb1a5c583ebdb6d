"""SpanClassifier on the tiny encoder: pooling, candidate masking, unseen entities, save/load, multitask."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from polytag.data import Dictionary, Sentence, link_document
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models.multitask import MultitaskModel
from polytag.models.span_classifier import SpanClassifier, SpanClassifierError, entity_name
from polytag.models.span_parts import document_head
from polytag.models.token_classifier import TokenClassifier
from polytag.nn.candidates import CandidateGenerator
from polytag.nn.prototypical import PrototypicalDecoder
from tests.test_models import train_shuffled


@pytest.fixture()
def embeddings(tiny_encoder_dir: Path) -> TransformerWordEmbeddings:
    torch.manual_seed(0)
    return TransformerWordEmbeddings(str(tiny_encoder_dir))


def _sentence() -> Sentence:
    sentence = Sentence("George Washington went to Washington and met the EU people .")
    sentence[0:2].add_label("nel", "George_Washington")
    sentence[4:5].add_label("nel", "Washington,_D.C.")
    sentence[8:9].add_label("nel", "European_Union")
    return sentence


def _dictionary(*items: str) -> Dictionary:
    dictionary = Dictionary(add_unk=True)
    for item in items:
        dictionary.add_item(item)
    return dictionary


def _candidates() -> CandidateGenerator:
    return CandidateGenerator(
        {
            "George Washington": {"George_Washington": 10, "George_Washington_(film)": 1},
            "Washington": {"Washington,_D.C.": 50, "Washington_(state)": 30, "George_Washington": 5},
            "EU": {"European_Union": 100},
        }
    )


@pytest.mark.parametrize("pooling", ["first_last", "first", "last", "mean", "average"])
def test_pooling_operations(embeddings: TransformerWordEmbeddings, pooling: str) -> None:
    model = SpanClassifier(
        embeddings,
        _dictionary("George_Washington", "Washington,_D.C.", "European_Union"),
        pooling_operation=pooling,
    )
    model.eval()
    sentence = _sentence()
    with torch.no_grad():
        batch = model.embed([sentence])
        spans, vectors, rows = model._span_vectors([sentence], batch)
    tokens = batch.token_embeddings[0]
    width = embeddings.embedding_length
    assert [(s.start, s.end) for s in spans] == [(0, 2), (4, 5), (8, 9)]
    assert vectors.shape == (3, 2 * width if pooling == "first_last" else width)
    george = tokens[0:2]
    expected = {
        "first_last": torch.cat([george[0], george[-1]]),
        "first": george[0],
        "last": george[-1],
        "mean": george.mean(0),
        "average": george.mean(0),
    }[pooling]
    assert torch.allclose(vectors[0], expected, atol=1e-5)
    if pooling in ("mean", "average"):
        assert torch.allclose(vectors[1], tokens[4], atol=1e-5)  # a one-token span is its token


def test_bad_settings_raise(embeddings: TransformerWordEmbeddings) -> None:
    dictionary = _dictionary("A")
    with pytest.raises(SpanClassifierError):
        SpanClassifier(embeddings, dictionary, pooling_operation="max")
    with pytest.raises(SpanClassifierError):  # a first_last decoder needs twice the width
        SpanClassifier(
            embeddings, dictionary, decoder=PrototypicalDecoder(len(dictionary), embeddings.embedding_length)
        )


def test_a_non_candidate_never_wins(embeddings: TransformerWordEmbeddings) -> None:
    """A label whose prototype outscores everything is not predicted where it is no candidate."""
    dictionary = _dictionary("George_Washington", "Washington,_D.C.", "European_Union", "Greedy_Label")
    model = SpanClassifier(
        embeddings, dictionary, candidates=_candidates(), use_entity_names=False, use_prior=False
    )
    model.eval()
    sentence = _sentence()
    with torch.no_grad():
        spans, vectors, _ = model._span_vectors([sentence], model.embed([sentence]))
        greedy = dictionary.get_idx_for_item("Greedy_Label")
        model.decoder.prototype_vectors[greedy] = vectors.mean(0) * 1000.0
    all_labels = SpanClassifier(embeddings, dictionary, decoder=model.decoder)  # same decoder, no candidates
    all_labels.predict(sentence, label_name="free")
    assert {label.value for label in sentence.get_labels("free")} == {"Greedy_Label"}
    model.predict(sentence, label_name="linked")
    linked = [(label.data_point.text, label.value) for label in sentence.get_labels("linked")]
    assert len(linked) == 3
    assert all(value in _candidates().get_candidates(text) for text, value in linked)
    # a span whose text has no candidates is not linked at all (no <unk> either)
    lonely = Sentence("Nobody knows Zorblax .")
    lonely[2:3].add_label("nel", "Zorblax")
    model.predict(lonely, label_name="linked")
    assert lonely.get_labels("linked") == []


def test_training_adds_the_gold_entity_evaluation_does_not(embeddings: TransformerWordEmbeddings) -> None:
    sentence = Sentence("Washington won .")
    sentence[0:1].add_label("nel", "Washington_Redskins")  # not among the candidates of "Washington"
    model = SpanClassifier(embeddings, _dictionary("Washington_Redskins"), candidates=_candidates())
    model.train()
    logits = model.compute_scores([sentence], model.embed([sentence]))
    assert "Washington_Redskins" in logits.entities and logits.gold.tolist() == [3]
    loss, count = model.compute_loss([sentence], logits, None)
    assert count == 1 and loss.requires_grad
    model.eval()
    with torch.no_grad():
        logits = model.compute_scores([sentence], model.embed([sentence]))
    assert "Washington_Redskins" not in logits.entities and logits.gold.tolist() == [-1]
    assert model.compute_loss([sentence], logits, None)[1] == 0


def test_probabilities_over_candidates(embeddings: TransformerWordEmbeddings) -> None:
    model = SpanClassifier(embeddings, _dictionary("George_Washington"), candidates=_candidates())
    sentence = _sentence()
    model.predict(sentence, label_name="all", return_probabilities_for_all_classes=True)
    washington = [label for label in sentence.get_labels("all") if label.data_point.start == 4]
    expected = {"Washington,_D.C.", "Washington_(state)", "George_Washington"}
    assert {label.value for label in washington} == expected
    assert sum(label.score for label in washington) == pytest.approx(1.0, abs=1e-5)
    model.predict(sentence, label_name="best")
    best = [label for label in sentence.get_labels("best") if label.data_point.start == 4][0]
    assert best.score == pytest.approx(max(label.score for label in washington), abs=1e-5)


def test_without_candidates_all_labels_compete_but_never_unk(embeddings: TransformerWordEmbeddings) -> None:
    dictionary = _dictionary("George_Washington", "Washington,_D.C.")
    model = SpanClassifier(embeddings, dictionary, pooling_operation="mean")
    with torch.no_grad():
        model.decoder.prototype_vectors[0] = 1000.0  # <unk> would win if it could
    sentence = _sentence()
    model.predict(sentence, label_name="free")
    values = {label.value for label in sentence.get_labels("free")}
    assert values and "<unk>" not in values and values <= {"George_Washington", "Washington,_D.C."}


def test_span_label_type_links_ner_spans_and_survives_save_load(
    embeddings: TransformerWordEmbeddings, tmp_path: Path
) -> None:
    model = SpanClassifier(
        embeddings,
        _dictionary("George_Washington", "European_Union"),
        span_label_type="ner",
        candidates=_candidates(),
        pooling_operation="mean",
    )
    sentence = Sentence("George Washington went to Washington and met the EU people .")
    sentence[0:2].add_label("ner", "PER")
    sentence[4:5].add_label("ner", "LOC")
    sentence[8:9].add_label("ner", "ORG")
    model.predict(sentence, label_name="nel_pred")
    linked = {
        (label.data_point.start, label.data_point.end): (label.value, label.score)
        for label in sentence.get_labels("nel_pred")
    }
    assert set(linked) == {(0, 2), (4, 5), (8, 9)}
    model.save(tmp_path / "linker.pt")
    loaded = SpanClassifier.load(tmp_path / "linker.pt")
    assert loaded.span_label_type == "ner" and loaded.pooling_operation == "mean"
    assert loaded.candidates.lookup("Washington") == model.candidates.lookup("Washington")
    loaded.predict(sentence, label_name="nel_again")
    again = {
        (label.data_point.start, label.data_point.end): (label.value, label.score)
        for label in sentence.get_labels("nel_again")
    }
    assert again.keys() == linked.keys()
    for key, (value, score) in linked.items():
        assert again[key][0] == value and again[key][1] == pytest.approx(score, abs=1e-5)


def test_save_load_without_candidates_and_with_a_linear_decoder(
    embeddings: TransformerWordEmbeddings, tmp_path: Path
) -> None:
    dictionary = _dictionary("George_Washington", "Washington,_D.C.", "European_Union")
    model = SpanClassifier(
        embeddings,
        dictionary,
        pooling_operation="first",
        decoder=torch.nn.Linear(embeddings.embedding_length, len(dictionary)),
    )
    sentence = _sentence()
    model.predict(sentence, label_name="a")
    model.save(tmp_path / "m.pt")
    loaded = SpanClassifier.load(tmp_path / "m.pt")
    assert loaded.candidates is None and loaded.span_label_type is None
    loaded.predict(sentence, label_name="b")
    assert [(x.value, round(x.score, 4)) for x in sentence.get_labels("a")] == [
        (x.value, round(x.score, 4)) for x in sentence.get_labels("b")
    ]


@pytest.fixture()
def one_thread():
    """Tiny tensors train much faster on one thread, above all when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _name_corpus(
    pairs: list[tuple[str, str]], distractors: list[str], rng: random.Random
) -> tuple[list, dict]:
    """Sentences "<w1> <w2> said hello ." linking "<w1> <w2>" to entity "W1_W2", plus a distractor."""
    sentences, table = [], {}
    for first, second in pairs:
        mention = f"{first} {second}"
        entity = f"{first.capitalize()}_{second.capitalize()}"
        sentence = Sentence(f"{mention} said hello .")
        sentence[0:2].add_label("nel", entity)
        sentences.append(sentence)
        table[mention] = {entity: 1.0, rng.choice([d for d in distractors if d != entity]): 1.0}
    return sentences, table


def test_an_unseen_gold_entity_is_chosen_through_its_name(tiny_encoder_dir: Path, one_thread: None) -> None:
    """Train on mentions that name their entity (priors carry no signal). Then each test mention's gold
    entity never occurred in training and competes with a seen entity (trained prototype) that has twice
    its prior: the unseen entity must still win through the vector computed from its name."""
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False)
    vocabulary = sorted(embeddings.tokenizer.get_vocab().items(), key=lambda item: item[1])
    words = [w for w, _ in vocabulary if w.isascii() and w.isalpha() and len(w) > 3][1000:1240]
    rng = random.Random(1)
    rng.shuffle(words)
    train_pairs = [(words[2 * i], words[2 * i + 1]) for i in range(100)]
    test_pairs = [(words[200 + 2 * i], words[201 + 2 * i]) for i in range(20)]
    seen_entities = [f"{a.capitalize()}_{b.capitalize()}" for a, b in train_pairs]
    train, table = _name_corpus(train_pairs, seen_entities, rng)
    test, test_table = _name_corpus(test_pairs, seen_entities, rng)
    for mention, entries in test_table.items():
        table[mention] = {entity: (1.0 if entity not in seen_entities else 2.0) for entity in entries}
    dictionary = _dictionary(*seen_entities)
    model = SpanClassifier(  # surface features would spot "mention == title": test the name vectors
        embeddings, dictionary, candidates=CandidateGenerator(table), surface_features=False
    )
    train_shuffled(model, train, epochs=15, batch=16, lr=0.003, rng=rng)
    gold = [s.get_labels("nel")[0].value for s in test]
    assert not set(gold) & set(dictionary.get_items())  # never seen in training
    model.predict(test, label_name="predicted_nel")
    predicted = [s.get_labels("predicted_nel")[0].value for s in test]
    correct = sum(p == g for p, g in zip(predicted, gold))
    assert correct >= 15, list(zip(gold, predicted))  # a prior-only linker gets 0 of these
    result = model.evaluate(test)
    assert result.scores["unseen_count"] == len(test) and result.scores["seen_count"] == 0
    assert result.scores["unseen_accuracy"] == pytest.approx(correct / len(test))


def test_evaluate_reports_linking_figures(embeddings: TransformerWordEmbeddings) -> None:
    model = SpanClassifier(
        embeddings, _dictionary("George_Washington", "European_Union"), candidates=_candidates()
    )
    sentences = [_sentence()]
    result = model.evaluate(sentences, main_evaluation_metric=("accuracy", ""))
    assert result.scores["recall@1"] == pytest.approx(1.0)
    assert result.scores["seen_count"] == 2 and result.scores["unseen_count"] == 1
    assert 0.0 <= result.main_score <= 1.0 and result.loss is not None
    assert sentences[0].get_labels("predicted") == []  # the scratch layer is removed


def test_name_vectors_are_cached_and_dropped_after_training(
    embeddings: TransformerWordEmbeddings, tiny_encoder_dir: Path
) -> None:
    model = SpanClassifier(embeddings, _dictionary("George_Washington"), candidates=_candidates())
    assert entity_name("European_Union") == "European Union"
    model.eval()
    assert model.precompute_entity_names() == len(model.candidates.entities)
    assert model.precompute_entity_names() == 0
    model.train()  # entering training keeps vectors made with the current weights
    assert len(model._name_cache) == len(model.candidates.entities)
    model.eval()  # leaving training drops them: a trainable encoder may have moved
    assert model._name_cache == {}
    frozen = SpanClassifier(
        TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False),
        _dictionary("George_Washington"),
        candidates=_candidates(),
    )
    frozen.precompute_entity_names()
    frozen.train()
    frozen.eval()
    assert len(frozen._name_cache) == len(frozen.candidates.entities)  # a frozen encoder never moves


def test_multitask_ner_and_nel_predict_in_one_call(embeddings: TransformerWordEmbeddings) -> None:
    ner_dictionary = Dictionary(add_unk=False)
    for tag in ("PER", "LOC", "ORG"):
        ner_dictionary.add_item(tag)
    ner_dictionary.span_labels = True
    ner = TokenClassifier(embeddings, ner_dictionary, "ner")
    nel = SpanClassifier(
        embeddings,
        _dictionary("George_Washington", "European_Union"),
        span_label_type="ner",
        candidates=_candidates(),
    )
    model = MultitaskModel([ner, nel], use_all_tasks=True)
    sentence = _sentence()
    sentence[0:2].add_label("ner", "PER")
    sentence[4:5].add_label("ner", "LOC")
    sentence[8:9].add_label("ner", "ORG")
    loss, count = model.forward_loss([sentence])
    assert count == 1 and loss.requires_grad
    loss.backward()
    assert nel.decoder.prototype_vectors.grad is not None and ner.decoder.weight.grad is not None
    plain = Sentence("George Washington went to Washington and met the EU people .")
    model.predict(plain)
    ner_spans = {(label.data_point.start, label.data_point.end) for label in plain.get_labels("ner")}
    nel_spans = {(label.data_point.start, label.data_point.end) for label in plain.get_labels("nel")}
    assert nel_spans <= ner_spans  # links are made on the spans the NER head predicted


def test_document_context_reads_the_first_sentence_of_the_document(
    embeddings: TransformerWordEmbeddings, tmp_path: Path
) -> None:
    headline = Sentence("SOCCER - JAPAN GET LUCKY WIN .")
    body = _sentence()
    other = Sentence("Washington is far away .")
    other[0:1].add_label("nel", "Washington,_D.C.")
    link_document([headline, Sentence("Tokyo 1996-12-06"), body], "d1")
    model = SpanClassifier(
        embeddings, _dictionary("George_Washington"), candidates=_candidates(), document_context=True
    )
    assert document_head(body) is headline and document_head(other) is other
    with torch.no_grad():
        torch.nn.init.normal_(model.context_projection.weight)
    model.eval()
    with torch.no_grad():
        vectors = model._document_vectors([body, other], [0, 0, 1])
        expected = model.embed([headline]).token_embeddings[0].mean(0)
    assert torch.allclose(vectors[0], expected, atol=1e-5) and torch.equal(vectors[0], vectors[1])
    model.predict([body, other], label_name="with_context")
    model.save(tmp_path / "context.pt")
    loaded = SpanClassifier.load(tmp_path / "context.pt")
    assert loaded.document_context
    loaded.predict([body, other], label_name="again")
    for sentence in (body, other):
        first = [(x.value, round(x.score, 4)) for x in sentence.get_labels("with_context")]
        assert first == [(x.value, round(x.score, 4)) for x in sentence.get_labels("again")]


def test_evaluate_splits_gives_each_split_and_the_macro_average(
    embeddings: TransformerWordEmbeddings,
) -> None:
    model = SpanClassifier(embeddings, _dictionary("George_Washington"), candidates=_candidates())
    easy = Sentence("the EU met .")
    easy[1:2].add_label("nel", "European_Union")  # the only candidate: always right
    hard = Sentence("Washington met .")
    hard[0:1].add_label("nel", "Not_A_Candidate")  # never right
    result = model.evaluate_splits({"aida-b": [easy], "cweb": [hard]}, return_loss=False)
    assert result.scores["aida-b"] == 1.0 and result.scores["cweb"] == 0.0
    assert result.main_score == result.scores["macro_avg"] == 0.5
    assert set(result.split_results) == {"aida-b", "cweb"} and "macro avg" in result.detailed_results


# -- the tutorial programs under examples/ (tiny encoder, small shares of the shared corpora) -------------

REPO = Path(__file__).resolve().parents[1]


def _run(name: str, tmp_path: Path, encoder: Path, datasets: Path | None, **env: str) -> str:
    import os
    import subprocess
    import sys

    environment = {
        **os.environ,
        "POLYTAG_EXAMPLE_ENCODER": str(encoder),
        "HF_HUB_OFFLINE": "1",
        "POLYTAG_EXAMPLE_OUTPUT": str(tmp_path / "model"),
        "OMP_NUM_THREADS": "1",
        **env,
    }
    if datasets is not None:
        environment["POLYTAG_DATASETS"] = str(datasets)
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / name)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def zelda_root(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """A datasets root in ZELDA's layout, written by the benchmark's --write-zelda step."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("zelda-root")
    subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "aida_nel.py"),
            "--write-zelda",
            str(root),
            "--data",
            str(shared_datasets),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (root / "zelda" / "train_data" / "zelda_train.conll").is_file()
    return root


def test_span_zelda_example(tmp_path: Path, tiny_encoder_dir: Path, zelda_root: Path) -> None:
    out = _run("span_zelda.py", tmp_path, tiny_encoder_dir, zelda_root, POLYTAG_EXAMPLE_FRACTION="0.02")
    line = next(x for x in out.splitlines() if x.startswith("Sentence[10]"))
    assert line.startswith('Sentence[10]: "JAPAN beat CHINA in the Asian Cup in Beirut ." → ["JAPAN"/')
    assert "DEV : loss" in (tmp_path / "model" / "training.log").read_text()


def test_span_column_corpus_example(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    out = _run("span_column_corpus.py", tmp_path, tiny_encoder_dir, None)
    assert "Corpus: 8 train + 8 dev + 8 test sentences" in out
    line = next(x for x in out.splitlines() if x.startswith("Sentence[6]"))
    assert '"Sam Houston"/' in line and '"Washington"/' in line


def test_span_in_memory_example(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    out = _run("span_in_memory.py", tmp_path, tiny_encoder_dir, None)
    assert "Corpus: 12 train + 3 dev + 3 test sentences" in out
    assert "Results (6 gold mentions, 6 predicted)" in out


def test_span_ner_nel_multitask_example(tmp_path: Path, tiny_encoder_dir: Path, zelda_root: Path) -> None:
    out = _run(
        "span_ner_nel_multitask.py", tmp_path, tiny_encoder_dir, zelda_root, POLYTAG_EXAMPLE_FRACTION="0.01"
    )
    part1 = (tmp_path / "model" / "part1" / "training.log").read_text()
    assert "Task_0 - SequenceTagger" in part1 and "Task_1 - SpanClassifier" in part1
    part2 = (tmp_path / "model" / "part2" / "training.log").read_text()
    assert "Task_1 - SpanClassifier" in part2
    lines = [x for x in out.splitlines() if x.startswith("[")]
    assert len(lines) == 2  # the predicted ner spans, then their links
