"""polytag.tokenization and polytag.splitter: Flair's tokenizer and splitter classes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytag.data import Sentence
from polytag.splitter import (
    NoSentenceSplitter,
    SciSpacySentenceSplitter,
    SegtokSentenceSplitter,
    SpacySentenceSplitter,
    TagSentenceSplitter,
)
from polytag.tokenization import (
    JapaneseTokenizer,
    MissingDependencyError,
    SciSpacyTokenizer,
    SegtokTokenizer,
    SpaceTokenizer,
    SpacyTokenizer,
    TokenizerWrapper,
    align_tokens,
)

TEXT = "This is a sentence. This is another sentence.\nI love Berlin. She doesn't   agree!"


def test_segtok_tokenizer_splits_punctuation_and_contractions() -> None:
    assert SegtokTokenizer().tokenize("I don't like U.S. politics, Mr. Smith.") == [
        "I", "do", "n't", "like", "U.S.", "politics", ",", "Mr.", "Smith", ".",
    ]  # fmt: skip
    assert SegtokTokenizer().name == "SegtokTokenizer"
    assert SegtokTokenizer.run_tokenize("Hi!") == ["Hi", "!"]


def test_space_tokenizer_splits_on_the_space_character_only() -> None:
    assert SpaceTokenizer().tokenize("  a  b\tc d. ") == ["a", "b\tc", "d."]
    assert SpaceTokenizer().tokenize("") == []


def test_tokenizer_objects_work_as_sentence_tokenizers_with_offsets() -> None:
    text = "She doesn't   agree!"
    sentence = Sentence(text, use_tokenizer=SegtokTokenizer())
    assert [t.text for t in sentence] == ["She", "does", "n't", "agree", "!"]
    assert [t.start_position for t in sentence] == [0, 4, 8, 14, 19]
    assert sentence.to_original_text() == text
    assert [t.whitespace_after for t in sentence] == [1, 0, 3, 0, 0]


def test_tokenizer_wrapper_uses_the_function_and_names_it() -> None:
    def by_comma(text: str) -> list[str]:
        return [part.strip() for part in text.split(",") if part.strip()]

    tokenizer = TokenizerWrapper(by_comma)
    assert tokenizer.tokenize("a, b,c") == ["a", "b", "c"]
    assert tokenizer.name == "TokenizerWrapper_by_comma"
    assert [t.start_position for t in Sentence("a, b,c", use_tokenizer=tokenizer)] == [0, 3, 5]


def test_tokenizer_wrapper_rejects_bad_functions() -> None:
    with pytest.raises(TypeError, match="function"):
        TokenizerWrapper("not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of strings"):
        TokenizerWrapper(lambda text: text).tokenize("abc")  # type: ignore[arg-type,return-value]


def test_align_tokens_places_rewritten_words_after_the_previous_one() -> None:
    assert align_tokens("a cannot b", ["a", "can", "not", "b"]) == [
        ("a", 0),
        ("can", 2),
        ("not", 5),
        ("b", 9),
    ]
    assert align_tokens("ab", ["a", "X", "b"]) == [("a", 0), ("X", 1), ("b", 1)]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab.,' \n!?A1"), max_size=40))
def test_segtok_tokens_are_slices_of_the_text(text: str) -> None:
    for word, start in SegtokTokenizer()(text):
        assert text[start : start + len(word)] == word


@pytest.mark.parametrize(
    "build",
    [
        lambda: SpacyTokenizer("en_core_web_sm"),
        SciSpacyTokenizer,
        lambda: SpacySentenceSplitter("en_core_web_sm"),
        SciSpacySentenceSplitter,
        lambda: JapaneseTokenizer("mecab"),
    ],
)
def test_optional_backends_say_what_is_missing(build) -> None:
    import importlib.util

    if importlib.util.find_spec("spacy") or importlib.util.find_spec("konoha"):  # pragma: no cover
        pytest.skip("an optional tokenizer backend is installed here")
    with pytest.raises(MissingDependencyError, match="pip install") as info:
        build()
    assert isinstance(info.value, ImportError)


def test_japanese_tokenizer_checks_its_arguments_first() -> None:
    with pytest.raises(ValueError, match="mecab"):
        JapaneseTokenizer("kuromoji")


def test_segtok_splitter_offsets_point_into_the_text() -> None:
    sentences = SegtokSentenceSplitter().split(TEXT)
    assert [s.to_original_text() for s in sentences] == [
        "This is a sentence.",
        "This is another sentence.",
        "I love Berlin.",
        "She doesn't   agree!",
    ]
    for sentence in sentences:
        start = sentence.start_position
        assert TEXT[start : start + len(sentence.to_original_text())] == sentence.to_original_text()


def test_splitter_links_sentences_as_one_document() -> None:
    first, second, third, fourth = SegtokSentenceSplitter().split(TEXT)
    assert first.previous_sentence() is None and first.next_sentence() is second
    assert third.previous_sentence() is second and fourth.next_sentence() is None
    unlinked = SegtokSentenceSplitter().split(TEXT, link_sentences=False)
    assert not any(s.is_context_set() for s in unlinked)


def test_splitter_uses_the_given_tokenizer() -> None:
    sentences = SegtokSentenceSplitter(tokenizer=SpaceTokenizer()).split("She doesn't agree. Fine!")
    assert [t.text for t in sentences[0]] == ["She", "doesn't", "agree."]
    splitter = SegtokSentenceSplitter()
    splitter.tokenizer = SpaceTokenizer()
    assert splitter.tokenizer.name == "SpaceTokenizer"


def test_no_sentence_splitter_keeps_the_whole_text() -> None:
    (sentence,) = NoSentenceSplitter().split("One. Two.")
    assert sentence.start_position == 0 and len(sentence) == 4


def test_tag_splitter_offsets_skip_blank_pieces() -> None:
    text = "A b.#!#! C d#!e"
    splitter = TagSentenceSplitter(tag="#!")
    sentences = splitter.split(text)
    assert [s.to_original_text() for s in sentences] == ["A b.", "C d", "e"]
    assert [s.start_position for s in sentences] == [0, 8, 14]
    assert text[8 + sentences[1][0].start_position] == "C"
    assert splitter.name == "TagSentenceSplitter_#!"
    with pytest.raises(ValueError, match="non-empty tag"):
        TagSentenceSplitter(tag="")


def test_splitter_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="expects a str"):
        SegtokSentenceSplitter().split(["not", "text"])  # type: ignore[arg-type]
