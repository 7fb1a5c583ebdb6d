"""Flair's tokenization and splitting tutorials, renamed to polytag, with the output Flair documents."""

from __future__ import annotations

import pytest

from polytag.data import Sentence
from polytag.splitter import NoSentenceSplitter, SegtokSentenceSplitter, TagSentenceSplitter
from polytag.tokenization import SegtokTokenizer, SpaceTokenizer, TokenizerWrapper


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_sentence_with_a_segtok_tokenizer_object(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.", use_tokenizer=SegtokTokenizer())
    print(sentence)
    for token in sentence:
        print(token)
    assert printed(capsys) == [
        'Sentence[5]: "The grass is green."',
        'Token[0]: "The"',
        'Token[1]: "grass"',
        'Token[2]: "is"',
        'Token[3]: "green"',
        'Token[4]: "."',
    ]


def test_space_tokenizer_keeps_punctuation_attached(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.", use_tokenizer=SpaceTokenizer())
    print(sentence)
    print(len(sentence))
    assert printed(capsys) == ['Sentence[4]: "The grass is green."', "4"]


def test_custom_tokenizer_function(capsys: pytest.CaptureFixture[str]) -> None:
    def char_tokenizer(text: str) -> list[str]:
        return [c for c in text if not c.isspace()]

    sentence = Sentence("ab c", use_tokenizer=TokenizerWrapper(char_tokenizer))
    print(sentence)
    print(sentence[2].start_position)
    assert printed(capsys) == ['Sentence[3]: "ab c"', "3"]


def test_segtok_splitter_tutorial(capsys: pytest.CaptureFixture[str]) -> None:
    text = "This is a sentence. This is another sentence. I love Berlin."
    splitter = SegtokSentenceSplitter()
    sentences = splitter.split(text)
    for sentence in sentences:
        print(sentence)
    assert printed(capsys) == [
        'Sentence[5]: "This is a sentence."',
        'Sentence[5]: "This is another sentence."',
        'Sentence[4]: "I love Berlin."',
    ]
    assert [s.start_position for s in sentences] == [0, 20, 46]
    assert sentences[1].previous_sentence() is sentences[0]


def test_splitter_output_feeds_a_predict_loop_shape() -> None:
    # Flair: tagger.predict(sentences) over splitter output; every sentence is a polytag Sentence
    sentences = SegtokSentenceSplitter().split("I love Berlin. Paris is nice too.")
    assert all(isinstance(s, Sentence) for s in sentences)
    assert [len(s) for s in sentences] == [4, 5]


def test_no_and_tag_splitters(capsys: pytest.CaptureFixture[str]) -> None:
    print(NoSentenceSplitter().split("One sentence. Or two?"))
    print(TagSentenceSplitter(tag="#!").split("One sentence#!Another one"))
    assert printed(capsys) == [
        '[Sentence[6]: "One sentence. Or two?"]',
        '[Sentence[2]: "One sentence", Sentence[2]: "Another one"]',
    ]
