"""Evaluation metrics: hand-made cases with known figures, agreement with seqeval (spans, on CoNLL-03)
and scikit-learn (tokens, multi-label texts), and the entity-linking metrics."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from polytag.evaluation import (
    EvaluationError,
    Result,
    candidate_recall_at_k,
    disambiguation_accuracy,
    end_to_end_scores,
    evaluate_items,
    evaluate_linking,
    recall_at_k,
    seen_unseen_accuracy,
)

# -- hand-made span cases ----------------------------------------------------------------------------

GOLD_SPANS = [(0, 0, 2, "PER"), (0, 3, 4, "LOC"), (1, 0, 1, "ORG"), (1, 2, 3, "PER")]
PREDICTED_SPANS = [
    (0, 0, 2, "PER"),  # right
    (0, 3, 4, "ORG"),  # right span, wrong type: one fp (ORG) and one fn (LOC)
    (1, 2, 4, "PER"),  # boundary wrong: fp and fn for PER
    (2, 0, 1, "MISC"),  # spurious
]


def test_span_scores_by_hand() -> None:
    result = evaluate_items(GOLD_SPANS, PREDICTED_SPANS, kind="span", loss=0.5)
    report = result.classification_report
    assert report["PER"] == {"precision": 0.5, "recall": 0.5, "f1-score": 0.5, "support": 2}
    assert report["LOC"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 1}
    assert report["ORG"]["support"] == 1 and report["ORG"]["precision"] == 0.0
    assert report["MISC"]["support"] == 0
    # tp=1, fp=3, fn=3
    assert report["micro avg"]["precision"] == pytest.approx(0.25)
    assert report["micro avg"]["recall"] == pytest.approx(0.25)
    assert report["micro avg"]["f1-score"] == pytest.approx(0.25)
    assert report["macro avg"]["f1-score"] == pytest.approx(0.5 / 4)
    assert report["weighted avg"]["f1-score"] == pytest.approx(0.5 * 2 / 4)
    # six distinct spans (keys), only (0, 0, 2) is right: the LOC/ORG confusion is one wrong span
    assert report["accuracy"] == pytest.approx(1 / 6)
    assert result.main_score == pytest.approx(0.25)  # micro F1 by default for spans
    assert result.scores["micro_f1"] == pytest.approx(0.25)
    assert result.scores["macro_f1"] == pytest.approx(0.125)
    assert result.scores["loss"] == 0.5 and result.loss == 0.5


def test_accuracy_is_tp_over_tp_fp_fn_without_type_confusion() -> None:
    gold = [(0, 0, 1, "A"), (0, 2, 3, "A"), (1, 0, 2, "B")]
    predicted = [(0, 0, 1, "A"), (1, 0, 2, "B"), (1, 3, 4, "B")]
    result = evaluate_items(gold, predicted, kind="span")
    assert result.scores["accuracy"] == pytest.approx(2 / (2 + 1 + 1))


def test_perfect_and_empty_predictions() -> None:
    perfect = evaluate_items(GOLD_SPANS, list(reversed(GOLD_SPANS)), kind="span")
    assert perfect.main_score == 1.0 and perfect.scores["accuracy"] == 1.0
    assert perfect.scores["macro_f1"] == 1.0
    nothing = evaluate_items(GOLD_SPANS, [], kind="span")
    assert nothing.main_score == 0.0 and nothing.classification_report["micro avg"]["support"] == 4
    empty = evaluate_items([], [], kind="span")
    assert empty.main_score == 0.0 and empty.scores["accuracy"] == 0.0
    assert "no gold and no predicted labels" in str(empty)


def test_micro_and_macro_differ_on_imbalanced_classes() -> None:
    gold = [(i, "common") for i in range(8)] + [(8, "rare"), (9, "rare")]
    predicted = [(i, "common") for i in range(10)]
    result = evaluate_items(gold, predicted, kind="text")
    common = result.classification_report["common"]
    assert common["precision"] == pytest.approx(0.8) and common["recall"] == 1.0
    assert result.scores["micro_f1"] == pytest.approx(0.8)  # single-label: micro F1 = accuracy
    assert result.scores["accuracy"] == pytest.approx(0.8)
    assert result.scores["macro_f1"] == pytest.approx((2 * 0.8 / 1.8 + 0.0) / 2)
    macro = evaluate_items(gold, predicted, kind="text", main_metric=("macro avg", "f1-score"))
    assert macro.main_score == pytest.approx(result.scores["macro_f1"])
    assert evaluate_items(gold, predicted, kind="text", main_metric=("rare", "recall")).main_score == 0.0
    assert evaluate_items(gold, predicted, kind="text", main_metric=("absent", "f1-score")).main_score == 0.0


def test_multi_label_text() -> None:
    gold = [(0, "a"), (0, "b"), (1, "a"), (2, "b")]
    predicted = [(0, "b"), (0, "a"), (1, "a"), (1, "c")]
    # sentence 3 has no gold and no predicted label: it only counts when the caller names it in keys
    result = evaluate_items(gold, predicted, kind="text", keys=range(4))
    assert result.scores["accuracy"] == pytest.approx(2 / 4)  # sentences 0 and 3 exactly right
    assert evaluate_items(gold, predicted, kind="text").scores["accuracy"] == pytest.approx(1 / 3)
    micro = result.classification_report["micro avg"]
    assert micro["precision"] == pytest.approx(3 / 4) and micro["recall"] == pytest.approx(3 / 4)
    assert result.classification_report["c"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1-score": 0.0,
        "support": 0,
    }
    assert result.classification_report["b"]["recall"] == pytest.approx(0.5)


def test_token_accuracy_counts_outside_tokens_but_report_does_not() -> None:
    gold = [(0, i, tag) for i, tag in enumerate(["B-PER", "I-PER", "O", "O", "B-LOC", "O"])]
    predicted = [(0, i, tag) for i, tag in enumerate(["B-PER", "O", "O", "O", "B-ORG", "O"])]
    result = evaluate_items(gold, predicted, kind="token")
    assert result.main_score == pytest.approx(4 / 6)  # accuracy by default for tokens
    assert "O" not in result.classification_report
    assert result.classification_report["micro avg"]["recall"] == pytest.approx(1 / 3)
    assert result.classification_report["micro avg"]["precision"] == pytest.approx(1 / 2)
    # with one gold and one predicted label per token (and no 'O'), micro F1 is accuracy
    pos_gold = [(0, 0, "DET"), (0, 1, "NOUN"), (0, 2, "VERB"), (1, 0, "NOUN")]
    pos_predicted = [(0, 0, "DET"), (0, 1, "VERB"), (0, 2, "VERB"), (1, 0, "NOUN")]
    pos = evaluate_items(pos_gold, pos_predicted, kind="token")
    assert pos.main_score == pytest.approx(0.75) == pytest.approx(pos.scores["micro_f1"])


def test_exclude_labels_ignores_those_data_points() -> None:
    gold = [(0, 0, 1, "PER"), (0, 2, 3, "MISC"), (1, 0, 1, "LOC")]
    predicted = [(0, 0, 1, "PER"), (0, 2, 3, "LOC"), (1, 0, 1, "LOC"), (1, 2, 3, "MISC")]
    result = evaluate_items(gold, predicted, kind="span", exclude_labels=["MISC"])
    assert "MISC" not in result.classification_report
    # the gold-MISC span and its (wrong) LOC prediction are ignored; the predicted MISC span is dropped
    assert result.classification_report["LOC"]["precision"] == 1.0
    assert result.scores["micro_f1"] == 1.0 and result.scores["accuracy"] == 1.0


def test_report_text_and_log_line() -> None:
    gold = [(i, "frequent") for i in range(5)] + [(5, "rare"), (6, "middle"), (7, "middle")]
    predicted = [(i, "frequent") for i in range(4)] + [
        (4, "rare"),
        (5, "rare"),
        (6, "middle"),
        (7, "frequent"),
    ]
    result = evaluate_items(gold, predicted, kind="text", loss=1.25)
    assert isinstance(result, Result)
    assert str(result) == result.detailed_results
    lines = result.detailed_results.splitlines()
    class_lines = [
        line.split()[0] for line in lines if line.split()[:1] in (["frequent"], ["middle"], ["rare"])
    ]
    assert class_lines == ["frequent", "middle", "rare"]  # sorted by support
    header = next(line for line in lines if "precision" in line)
    assert header.split() == ["precision", "recall", "f1-score", "support"]
    frequent = next(line for line in lines if line.strip().startswith("frequent")).split()
    expected = result.classification_report["frequent"]
    assert frequent[1:] == [
        f"{expected['precision']:.4f}",
        f"{expected['recall']:.4f}",
        f"{expected['f1-score']:.4f}",
        "5",
    ]
    assert f"- F-score (micro) {result.scores['micro_f1']:.4f}" in result.detailed_results
    assert result.log_header.split("\t") == ["PRECISION", "RECALL", "F1", "ACCURACY"]
    figures = [float(x) for x in result.log_line.split("\t")]
    micro = result.classification_report["micro avg"]
    assert figures == pytest.approx(
        [micro["precision"], micro["recall"], micro["f1-score"], result.scores["accuracy"]], abs=5e-5
    )


def test_bad_arguments() -> None:
    with pytest.raises(EvaluationError, match="unknown evaluation kind"):
        evaluate_items([], [], kind="spans")
    with pytest.raises(EvaluationError, match="not a tuple"):
        evaluate_items(["PER"], [], kind="span")
    with pytest.raises(EvaluationError, match="column"):
        evaluate_items(GOLD_SPANS, PREDICTED_SPANS, kind="span", main_metric=("micro avg", "f1"))
    with pytest.raises(EvaluationError, match="unknown average"):
        evaluate_items(GOLD_SPANS, PREDICTED_SPANS, kind="span", main_metric=("micro-avg", "f1-score"))


# -- agreement with scikit-learn ---------------------------------------------------------------------


def _assert_same_report(ours: dict, theirs: dict, classes: list[str]) -> None:
    for name in [*classes, "micro avg", "macro avg", "weighted avg"]:
        for column in ("precision", "recall", "f1-score", "support"):
            assert ours[name][column] == pytest.approx(theirs[name][column], abs=1e-9), (name, column)


def test_multi_label_agrees_with_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = random.Random(7)
    labels = ["sport", "politics", "business", "science", "world"]
    gold_sets, predicted_sets = [], []
    for _ in range(300):
        gold_sets.append({label for label in labels if rng.random() < 0.3} or {rng.choice(labels)})
        predicted_sets.append({label for label in labels if rng.random() < 0.3})
    gold = [(i, label) for i, labels_ in enumerate(gold_sets) for label in labels_]
    predicted = [(i, label) for i, labels_ in enumerate(predicted_sets) for label in labels_]
    ours = evaluate_items(gold, predicted, kind="text", keys=range(len(gold_sets)))

    binarizer = preprocessing.MultiLabelBinarizer(classes=labels)
    y_true, y_pred = binarizer.fit_transform(gold_sets), binarizer.transform(predicted_sets)
    theirs = metrics.classification_report(
        y_true, y_pred, target_names=labels, output_dict=True, zero_division=0
    )
    _assert_same_report(ours.classification_report, theirs, labels)
    assert ours.scores["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred), abs=1e-12)


def test_token_tags_agree_with_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = random.Random(3)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "NOUN"]
    gold_tags = [rng.choice(tags) for _ in range(2000)]
    predicted_tags = [tag if rng.random() < 0.8 else rng.choice(tags) for tag in gold_tags]
    gold = [(i // 20, i % 20, tag) for i, tag in enumerate(gold_tags)]
    predicted = [(i // 20, i % 20, tag) for i, tag in enumerate(predicted_tags)]
    ours = evaluate_items(gold, predicted, kind="token")
    classes = sorted(set(tags) - {"O"})
    theirs = metrics.classification_report(
        gold_tags, predicted_tags, labels=classes, output_dict=True, zero_division=0
    )
    _assert_same_report(ours.classification_report, theirs, classes)
    assert ours.main_score == pytest.approx(metrics.accuracy_score(gold_tags, predicted_tags), abs=1e-12)


# -- agreement with seqeval on CoNLL-03 --------------------------------------------------------------


def _read_conll03(path: Path) -> list[list[str]]:
    """NER tag sequences of a CoNLL-03 file: 'word POS chunk NER' lines, blank lines between sentences."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        columns = line.split(" ")
        assert len(columns) == 4, f"{path}, line {number}: expected 4 space-separated columns"
        if columns[0] == "-DOCSTART-":
            continue
        current.append(columns[3])
    if current:
        sentences.append(current)
    return sentences


def _iob2_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) with end exclusive, for a valid IOB2 sequence."""
    spans, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == kind):
            spans.append((start, i, kind))
            start = None
        if tag.startswith("B-"):
            start, kind = i, tag[2:]
        elif tag.startswith("I-") and start is None:
            raise AssertionError(f"not valid IOB2 at position {i}: {tags}")
    return spans


def _to_iob2(length: int, spans: list[tuple[int, int, str]]) -> list[str]:
    tags = ["O"] * length
    for start, end, kind in spans:
        assert all(tag == "O" for tag in tags[start:end]), "perturbed spans overlap"
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def _perturb(
    length: int, spans: list[tuple[int, int, str]], rng: random.Random
) -> list[tuple[int, int, str]]:
    """Drop spans, change types, move boundaries and add spurious spans; never overlapping."""
    types = ["LOC", "MISC", "ORG", "PER"]
    taken = [False] * length
    for start, end, _ in spans:
        taken[start:end] = [True] * (end - start)
    result = []
    for start, end, kind in spans:
        roll = rng.random()
        if roll < 0.1:  # drop
            taken[start:end] = [False] * (end - start)
            continue
        if roll < 0.2:  # change type
            kind = rng.choice([t for t in types if t != kind])
        elif roll < 0.35:  # move a boundary by one token where that stays valid
            options = []
            if start > 0 and not taken[start - 1]:
                options.append((start - 1, end))
            if end < length and not taken[end]:
                options.append((start, end + 1))
            if end - start > 1:
                options += [(start + 1, end), (start, end - 1)]
            if options:
                new_start, new_end = rng.choice(options)
                taken[start:end] = [False] * (end - start)
                taken[new_start:new_end] = [True] * (new_end - new_start)
                start, end = new_start, new_end
        result.append((start, end, kind))
    if length and rng.random() < 0.15:  # a spurious span on a free token
        free = [i for i in range(length) if not taken[i]]
        if free:
            i = rng.choice(free)
            result.append((i, i + 1, rng.choice(types)))
    return result


def test_span_scores_agree_with_seqeval_strict_iob2_on_conll03(shared_datasets: Path) -> None:
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    from seqeval.scheme import IOB2

    path = shared_datasets / "conll_03" / "test.txt"
    if not path.is_file():
        pytest.skip(f"CoNLL-03 test file not found at {path} (set POLYTAG_DATASETS)")
    gold_tags = _read_conll03(path)
    assert len(gold_tags) == 3453 and sum(map(len, gold_tags)) == 46435

    rng = random.Random(2003)
    predicted_tags, gold_items, predicted_items = [], [], []
    for index, tags in enumerate(gold_tags):
        spans = _iob2_spans(tags)
        perturbed = _perturb(len(tags), spans, rng)
        predicted_tags.append(_to_iob2(len(tags), perturbed))
        gold_items += [(index, start, end, kind) for start, end, kind in spans]
        predicted_items += [(index, start, end, kind) for start, end, kind in perturbed]
    assert len(gold_items) == 5648

    ours = evaluate_items(gold_items, predicted_items, kind="span").classification_report
    theirs = seqeval_metrics.classification_report(
        gold_tags, predicted_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    classes = [name for name in theirs if not name.endswith("avg")]
    assert sorted(classes) == ["LOC", "MISC", "ORG", "PER"]
    assert 0.6 < theirs["micro avg"]["f1-score"] < 0.95  # the perturbation really changed things
    _assert_same_report(ours, theirs, classes)
    assert ours["micro avg"]["f1-score"] == pytest.approx(
        seqeval_metrics.f1_score(gold_tags, predicted_tags, mode="strict", scheme=IOB2), abs=1e-9
    )


# -- entity linking ----------------------------------------------------------------------------------

GOLD_LINKS = {(0, 0, 1): "Paris", (0, 3, 5): "France", (1, 2, 3): "Eiffel_Tower", (2, 0, 1): "Seine"}


def test_disambiguation_accuracy() -> None:
    predicted = {(0, 0, 1): "Paris", (0, 3, 5): "Paris", (1, 2, 3): "Eiffel_Tower"}  # no answer for the Seine
    assert disambiguation_accuracy(GOLD_LINKS, predicted) == pytest.approx(2 / 4)
    items = [(*key, entity) for key, entity in predicted.items()]
    assert disambiguation_accuracy(GOLD_LINKS, items) == pytest.approx(2 / 4)
    assert disambiguation_accuracy({}, predicted) == 0.0
    with pytest.raises(EvaluationError, match="two entities"):
        disambiguation_accuracy([(0, 0, 1, "Paris"), (0, 0, 1, "Lyon")], [])


def test_end_to_end_scores() -> None:
    predicted = {
        (0, 0, 1): "Paris",  # right
        (0, 3, 4): "France",  # span too short: wrong
        (1, 2, 3): "Eiffel",  # right span, wrong entity
        (3, 0, 1): "Loire",  # spurious
    }
    scores = end_to_end_scores(GOLD_LINKS, predicted)
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 3, 3)
    assert scores["precision"] == pytest.approx(1 / 4) and scores["recall"] == pytest.approx(1 / 4)
    assert scores["f1"] == pytest.approx(1 / 4)
    assert scores["mention_precision"] == pytest.approx(2 / 4)  # (0,0,1) and (1,2,3) found
    assert scores["mention_recall"] == pytest.approx(2 / 4)


def test_recall_at_k() -> None:
    candidates = {
        (0, 0, 1): ["Paris", "Paris_Texas"],
        (0, 3, 5): ["France_national_team", "Kingdom_of_France", "France"],
        (1, 2, 3): ["Eiffel", "Gustave_Eiffel", "Eiffel_Tower_replicas", "Tower", "Eiffel_Tower"],
    }
    recalls = recall_at_k(GOLD_LINKS, candidates, ks=(1, 3, 5, 30))
    assert recalls == {1: pytest.approx(1 / 4), 3: pytest.approx(2 / 4), 5: pytest.approx(3 / 4), 30: 0.75}
    with pytest.raises(EvaluationError, match="positive"):
        recall_at_k(GOLD_LINKS, candidates, ks=(0,))


def test_candidate_recall_at_k_asks_a_lookup_for_each_gold_span() -> None:
    from polytag.data import Sentence

    first = Sentence("Paris is in France .")
    first[0:1].add_label("nel", "Paris")
    first[3:4].add_label("nel", "France")
    first.add_label("nel", "not-a-mention")  # a sentence label is skipped
    second = Sentence("Paris again .")
    second[0:1].add_label("nel", "Paris_Texas")
    ranked = {"Paris": ["Paris", "Paris_Texas"], "France": ["Kingdom_of_France", "France"]}
    asked: list[str] = []

    def lookup(text: str) -> list[str]:
        asked.append(text)
        return ranked.get(text, [])

    recalls = candidate_recall_at_k(lookup, [first, second], "nel", ks=(1, 2))
    # ranks: Paris 1, France 2, Paris_Texas 2 (the two "Paris" spans are separate mentions)
    assert recalls == {1: pytest.approx(1 / 3), 2: pytest.approx(1.0)}
    assert sorted(asked) == ["France", "Paris", "Paris"]
    assert candidate_recall_at_k(lambda text: [], [first], "nel", ks=(5,)) == {5: 0.0}


def test_seen_unseen_accuracy() -> None:
    predicted = {(0, 0, 1): "Paris", (0, 3, 5): "France", (1, 2, 3): "Eiffel", (2, 0, 1): "Seine"}
    split = seen_unseen_accuracy(GOLD_LINKS, predicted, seen_entities=["Paris", "Eiffel_Tower", "Berlin"])
    assert split["seen_count"] == 2 and split["unseen_count"] == 2
    assert split["seen_accuracy"] == pytest.approx(1 / 2)  # Paris right, Eiffel_Tower wrong
    assert split["unseen_accuracy"] == pytest.approx(1.0)  # France, Seine right


def test_evaluate_linking_result() -> None:
    predicted = {(0, 0, 1): "Paris", (0, 3, 5): "France", (1, 2, 3): "Eiffel", (9, 0, 1): "Rhine"}
    candidates = {(0, 0, 1): ["Paris"], (0, 3, 5): ["Kingdom_of_France", "France"]}
    result = evaluate_linking(
        GOLD_LINKS, predicted, candidates=candidates, seen_entities={"Paris"}, ks=(1, 2), loss=0.3
    )
    assert result.scores["accuracy"] == pytest.approx(2 / 4)
    assert result.main_score == pytest.approx(2 / 4)  # strong-match micro F1: p = 2/4, r = 2/4
    assert result.scores["recall@1"] == pytest.approx(1 / 4)
    assert result.scores["recall@2"] == pytest.approx(2 / 4)
    assert result.scores["seen_accuracy"] == 1.0 and result.scores["unseen_accuracy"] == pytest.approx(1 / 3)
    assert result.classification_report["micro avg"]["support"] == 4
    assert result.loss == 0.3
    assert "Accuracy 0.5000" in str(result) and "@2 0.5000" in str(result)
    only_accuracy = evaluate_linking(GOLD_LINKS, predicted, main_metric=("accuracy", ""))
    assert only_accuracy.main_score == pytest.approx(0.5)
    with pytest.raises(EvaluationError, match="not available for linking"):
        evaluate_linking(GOLD_LINKS, predicted, main_metric=("macro avg", "f1-score"))
