"""Entity links: only http/https URLs whose host the template chose; hostile ids and templates get none."""

from __future__ import annotations

import pytest

from polytag.cli.render import render_sentence
from polytag.cli.results import Layer, entity_url, is_web_url, sentence_result
from polytag.data import Sentence

WIKI = "https://en.wikipedia.org/wiki/{}"
HOSTILE_IDS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "https://evil.example/phish",
    'x" onmouseover="alert(1)',
    "x' onmouseover='alert(1)",
    "a<b>c",
    "@evil.example",
    "..%2F..%2Fadmin",
    "line\nbreak",
]


@pytest.mark.parametrize("entity", HOSTILE_IDS)
def test_hostile_ids_stay_on_the_templates_host(entity: str) -> None:
    url = entity_url(entity, WIKI)
    assert url is not None and url.startswith("https://en.wikipedia.org/wiki/")
    assert is_web_url(url)
    assert not set('"<> \n') & set(url)  # "'" may stay: the renderer escapes it in the attribute
    assert "/" not in url[len("https://en.wikipedia.org/wiki/") :]  # the id cannot add path segments


def test_an_id_that_is_a_url_is_not_passed_through() -> None:
    assert (
        entity_url("https://evil.example/phish")
        == "https://en.wikipedia.org/wiki/https%3A%2F%2Fevil.example%2Fphish"
    )
    assert entity_url("https://evil.example/phish", None) is None
    assert entity_url("https://evil.example/phish", "{}") is None


@pytest.mark.parametrize(
    "template",
    [
        "{}",  # the id alone would be the whole URL
        "javascript:{}",
        "JAVASCRIPT:alert('{}')",
        "data:text/html,{}",
        "//evil.example/{}",  # scheme-relative
        "ftp://files.example/{}",
        "https://{}.example.org/",  # the id would choose the host
        "https://example.org{}",  # the id would follow the host directly
        "http:///{}",  # no host
        'https://example.org/{}" onclick="alert(1)',  # breaks out of the attribute
        "https://example.org/ {}",
        "https://example.org/wiki/",  # no place for the id
        "",
    ],
)
def test_hostile_or_broken_templates_make_no_link(template: str) -> None:
    for entity in ("Paris", "javascript:alert(1)", "https://evil.example/"):
        assert entity_url(entity, template) is None


def test_good_templates_make_links() -> None:
    assert entity_url("Côte d'Ivoire") == "https://en.wikipedia.org/wiki/C%C3%B4te_d'Ivoire"
    assert entity_url("Q42", "https://www.wikidata.org/wiki/{}") == "https://www.wikidata.org/wiki/Q42"
    assert entity_url("AC/DC", "http://kb.example:8080/e?id={}") == "http://kb.example:8080/e?id=AC%2FDC"
    assert entity_url("Barack Obama") == "https://en.wikipedia.org/wiki/Barack_Obama"


def _linked(value: str) -> dict:
    sentence = Sentence("Obama spoke .")
    sentence[0:1].add_label("nel", value, 0.9)
    return sentence_result(sentence, [Layer("Task_0", "SpanClassifier", "nel", "link")], "{}")


def test_template_of_only_the_id_renders_plain_escaped_text() -> None:
    result = _linked("javascript:alert(1)")
    assert "url" not in result["spans"][0]
    html = render_sentence(result)
    assert "href" not in html and "javascript:alert(1)" in html  # shown, as text only
    attack = _linked('"><script>alert(1)</script>')
    html = render_sentence(attack)
    assert "<script>" not in html and "&lt;script&gt;" in html and "href" not in html


def test_render_rechecks_urls_it_is_given() -> None:
    result = _linked("Paris")
    span = result["spans"][0]
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example/", 'https://x.org/"onclick="y'):
        span["url"] = bad
        assert "href" not in render_sentence(result)
    span["url"] = "https://en.wikipedia.org/wiki/Paris"
    assert 'href="https://en.wikipedia.org/wiki/Paris"' in render_sentence(result)
