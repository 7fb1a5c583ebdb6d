"""The config schema reads types, not annotation text: every spelling of a type checks the same way."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

import pytest

from polytag.config.schema import Param, coerce, describe, signature_params

if TYPE_CHECKING:
    from polytag.data import Corpus


def _options(
    self: Any,
    a: Optional[int] = None,  # noqa: UP045 - the old spelling on purpose
    b: Union[int, None] = None,  # noqa: UP007 - the old spelling on purpose
    c: int | None = None,
    rate: float = 0.1,
    files: Sequence[str | os.PathLike] | None = None,
    folder: str | os.PathLike | None = None,
    mode: Literal["first", "last"] = "first",
    names: list[str] = (),  # type: ignore[assignment]
    corpus: Corpus | None = None,
    **kwargs: Any,
) -> None:
    """A signature with every form the schema meets; Corpus exists for type checkers only."""


def test_every_spelling_of_optional_int_is_one_type():
    params = signature_params(_options)
    assert set(params) == {
        "a",
        "b",
        "c",
        "rate",
        "files",
        "folder",
        "mode",
        "names",
        "corpus",
    }  # no self/kwargs
    for key in ("a", "b", "c"):
        annotation = params[key].annotation
        assert coerce(3, annotation) == (True, 3)
        assert coerce(None, annotation) == (True, None)
        assert coerce(True, annotation)[0] is False  # a bool is not an int here
        assert coerce("3", annotation)[0] is False
        assert describe(annotation) == "int | None"


def test_floats_paths_sequences_and_literals():
    params = signature_params(_options)
    assert coerce("5e-5", params["rate"].annotation) == (True, 5e-5)  # YAML 1.1 reads 5e-5 as text
    assert coerce("fast", params["rate"].annotation)[0] is False
    assert params["folder"].path and describe(params["folder"].annotation) == "path | None"
    assert not params["rate"].path
    assert coerce(["a", "b"], params["names"].annotation) == (True, ["a", "b"])
    assert coerce(["a", 1], params["names"].annotation)[0] is False  # items are checked
    assert coerce("a", params["names"].annotation)[0] is False
    assert coerce(["x.txt"], params["files"].annotation) == (True, ["x.txt"])
    assert coerce("last", params["mode"].annotation) == (True, "last")
    assert coerce("middle", params["mode"].annotation)[0] is False


def test_a_type_that_cannot_be_evaluated_takes_only_none():
    # "Corpus | None" names a class imported only for type checkers: no YAML value but null fits
    annotation = signature_params(_options)["corpus"].annotation
    assert coerce(None, annotation) == (True, None)
    assert coerce({"type": "column"}, annotation)[0] is False
    # the others of the same signature are still read as types
    assert describe(signature_params(_options)["c"].annotation) == "int | None"


@pytest.mark.parametrize(
    ("annotation", "value", "fits"),
    [(dict, {"a": 1}, True), (dict, [1], False), (Any, object, True), (bool, 1, False), (str, 1, False)],
)
def test_simple_types(annotation, value, fits):
    assert coerce(value, annotation)[0] is fits
    assert Param(annotation).default is Param.REQUIRED
