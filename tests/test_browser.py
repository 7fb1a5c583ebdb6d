"""The served page in a real browser: headless Debian Chromium driven by Playwright.

The test types a sentence into the page of ``polytag serve``, presses the button and reads the
highlighted spans and their labels back from the page; they must be what the model predicts for that
sentence in-process. Chromium comes from Debian's ``chromium`` package, installed here when missing
(as root, with apt-get); the test skips, saying why, only where it cannot be installed. Playwright
never downloads a browser here: it is pointed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from polytag.cli.results import model_layers, sentence_result
from polytag.cli.segment import make_sentences
from polytag.cli.serve import create_app
from tests.test_cli_support import ServerThread, build_model, one_torch_thread, rig_spans, rig_topic

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt-get when it is missing; skips when that is impossible."""
    found = find_chromium()
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip("Chromium is not installed and this system has no apt-get to install Debian's chromium")
    if os.geteuid() != 0:
        pytest.skip("Chromium is not installed and installing Debian's chromium needs root (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.skip(
                    f"Chromium could not be installed ({' '.join(command)}: {done.stderr.strip()[-300:]})"
                )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium could not be installed: {exc}")
    found = find_chromium()
    if not found:
        pytest.skip("apt-get installed chromium, but no chromium executable was found")
    return found


@pytest.fixture(scope="module")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="module")
def served(tiny_encoder_dir):
    model = build_model(tiny_encoder_dir)
    rig_spans(model.tasks["ner"], "LOC")
    rig_topic(model.tasks["topic"], "sports")
    with one_torch_thread(), ServerThread(create_app(model, "browser-test.pt")) as server:
        yield model, server


def test_page_highlights_spans_in_chromium(chromium, served, tmp_path):
    from playwright.sync_api import sync_playwright

    model, server = served
    text = "Maria visited Paris. The team won!"
    expected_sentences = make_sentences(text)
    model.predict(expected_sentences)
    layers = model_layers(model)
    expected = [
        (span["text"], span["value"])
        for sentence in expected_sentences
        for span in sentence_result(sentence, layers)["spans"]
    ]
    assert expected  # the rigged head labels every token LOC

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            page = context.new_page()
            page.goto(server.url + "/", wait_until="load")
            page.fill("#text", text)
            page.click("#submit")
            page.wait_for_selector("#result[data-done]", timeout=30_000)
            marks = page.eval_on_selector_all(
                "#result mark.polytag-span",
                "els => els.map(e => [e.firstChild.textContent,"
                " e.querySelector('.polytag-label').textContent, e.dataset.label, e.dataset.layer])",
            )
            badges = page.eval_on_selector_all(
                "#result .polytag-badge", "els => els.map(e => e.dataset.label)"
            )
            tags = page.eval_on_selector_all(
                "#result .polytag-tokens .polytag-word", "els => els.map(e => e.textContent)"
            )
            error = page.text_content("#error")
        finally:
            context.close()

    assert error == ""
    assert [(m[0], m[2]) for m in marks] == expected
    assert all(
        m[1] == m[2] == "LOC" and m[3] == "ner" for m in marks
    )  # the visible label is the span's label
    assert badges == ["sports", "sports"]  # one topic badge per sentence
    assert tags == [t.text for s in expected_sentences for t in s]  # POS line lists every token
