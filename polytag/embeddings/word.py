"""Classic word vectors (Flair's ``WordEmbeddings``) from local files; the base of classic token embeddings.

Formats read (chosen from the file, ``binary`` / ``no_header`` override the guess):

* word2vec binary (``.bin``): a ``<count> <dim>`` header line, then each word, a space and ``dim``
  little-endian float32 values;
* word2vec text (``.txt``, ``.vec``, fastText's ``.vec``): the same header, then ``word v1 ... vdim`` a line;
* GloVe text: as word2vec text without the header line;
* gzip-compressed copies of the text formats (``.gz``);
* gensim's own ``KeyedVectors.save`` format (a pickle; what Flair caches as ``*.gensim``), only through
  gensim when it is installed, since reading it means unpickling the file.

Nothing is downloaded: a name such as ``'glove'`` or ``'en'`` that is not a local file raises
:class:`EmbeddingFileNotFoundError` at once, saying which file Flair would have fetched and how to pass
a local one. A word is looked up as Flair does (as is, lower-cased, digits as ``#``, digits as ``0``);
unknown words get the zero vector of an extra ``<unk>`` row.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from polytag.data import Sentence
from polytag.embeddings.base import (
    EmbeddingBatch,
    as_sentence_list,
    store_token_vectors,
    stored_token_vectors,
)
from polytag.errors import FormatError, PolytagError
from polytag.tokenization import MissingDependencyError

__all__ = [
    "EmbeddingFileNotFoundError",
    "TokenEmbeddings",
    "WordEmbeddings",
    "read_word_vectors",
]

FLAIR_EMBEDDINGS_URL = "https://flair.informatik.hu-berlin.de/resources/embeddings/token/"
# Flair's hub names -> the file Flair downloads for them (a gensim pickle, see the module docstring)
FLAIR_HUB_FILES = {
    "glove": "glove.gensim",
    "en-glove": "glove.gensim",
    "extvec": "extvec.gensim",
    "en-extvec": "extvec.gensim",
    "crawl": "en-fasttext-crawl-300d-1M",
    "en-crawl": "en-fasttext-crawl-300d-1M",
    "news": "en-fasttext-news-300d-1M",
    "en-news": "en-fasttext-news-300d-1M",
    "en": "en-fasttext-news-300d-1M",
    "twitter": "twitter.gensim",
    "en-twitter": "twitter.gensim",
    "turian": "turian",
    "en-turian": "turian",
}
_LANGUAGE_NAME = re.compile(r"^([a-z]{2})(-wiki|-crawl)?$")
_PICKLE_MAGIC = b"\x80"


class EmbeddingFileNotFoundError(PolytagError, FileNotFoundError):
    """Word vectors named by a hub name or a path that is not a local file (polytag never downloads them)."""


class TokenEmbeddings(torch.nn.Module):
    """Base of the classic token embeddings (word vectors, stacks): one vector per token.

    Subclasses implement :meth:`forward_batch` and set ``embedding_length``. Like
    :class:`~polytag.embeddings.TransformerEmbeddings`, they hand task heads an
    :class:`~polytag.embeddings.EmbeddingBatch`; ``embed`` keeps the vectors on the tokens
    (``token.embedding``), as Flair does.
    """

    is_token_embedding = True
    is_document_embedding = False
    embedding_length: int
    name: str

    def __init__(self) -> None:
        super().__init__()

    def forward_batch(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        raise NotImplementedError

    def forward(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        return self.forward_batch(sentences)

    @property
    def device(self) -> torch.device:
        for parameter in self.parameters():
            return parameter.device
        for buffer in self.buffers():
            return buffer.device
        return torch.device("cpu")

    def embed(self, sentences: Sentence | Sequence[Sentence]) -> list[Sentence]:
        """Embed sentences without gradients, Flair style, in one batch, and return them: each token's
        vector goes to ``token.embedding`` under this module's name (:meth:`store_names`)."""
        batch = as_sentence_list(sentences)
        with torch.no_grad():
            output = self.forward_batch(batch)
        assert output.token_embeddings is not None
        store_token_vectors(batch, self.name, output.token_embeddings)
        return batch

    def store_names(self) -> list[str]:
        """The names under which :meth:`embed` keeps this module's vectors on a token, in order."""
        return [self.name]

    def get_token_embeddings(self, sentence: Sentence) -> torch.Tensor | None:
        """``[len(sentence), embedding_length]``: the vectors :meth:`embed` stored, or None."""
        return stored_token_vectors(sentence, self.store_names())

    def get_document_embedding(self, sentence: Sentence) -> torch.Tensor | None:
        """Token embeddings have no document vector (Flair's DocumentPoolEmbeddings pools them)."""
        return None

    def __str__(self) -> str:
        return self.name


def pad_lengths(
    sentences: Sequence[Sentence], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``lengths`` (CPU long), ``mask`` ``[B, T]`` on ``device`` and ``T`` for a batch of sentences."""
    lengths = torch.tensor([len(s) for s in sentences], dtype=torch.long)
    width = int(lengths.max()) if len(sentences) else 0
    mask = torch.arange(width, device=device)[None, :] < lengths.to(device)[:, None]
    return lengths, mask, width


# -- reading vector files -------------------------------------------------------------------------------


def _open_text(path: Path) -> IO[str]:
    raw: Any = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n")


def _is_header(fields: list[str]) -> bool:
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def _text_rows(path: Path, no_header: bool) -> Iterator[tuple[int, str, np.ndarray]]:
    """``(line number, word, vector)`` of a word2vec or GloVe text file; the header is checked and skipped."""
    dim: int | None = None
    expected_rows: int | None = None
    rows = 0
    with _open_text(path) as handle:
        try:
            for line_no, line in enumerate(handle, start=1):
                line = line.rstrip("\n").rstrip("\r")
                if not line.strip():
                    continue
                if line_no == 1 and not no_header and _is_header(line.split()):
                    expected_rows, dim = (int(f) for f in line.split())
                    continue
                if dim is None:
                    dim = len(line.rstrip().split(" ")) - 1
                    if dim < 1:
                        raise FormatError(path, line_no, "expected a word followed by its vector's numbers")
                # the last ``dim`` fields are numbers; GloVe 840B has words with spaces: the word is the rest
                parts = line.rstrip().rsplit(" ", dim)
                if len(parts) != dim + 1 or not parts[0]:
                    raise FormatError(
                        path, line_no, f"expected a word and {dim} numbers, got {len(parts) - 1}"
                    )
                try:
                    vector = np.asarray(parts[1:], dtype=np.float32)
                except ValueError:
                    raise FormatError(
                        path, line_no, f"expected {dim} numbers after the word {parts[0]!r}"
                    ) from None
                rows += 1
                yield line_no, parts[0], vector
        except UnicodeDecodeError as error:
            raise FormatError(
                path, None, f"not UTF-8 text ({error}); a binary word2vec file needs binary=True"
            ) from None
    if expected_rows is not None and rows != expected_rows:
        raise FormatError(path, None, f"the header announces {expected_rows} vectors, the file has {rows}")


def _binary_rows(path: Path) -> Iterator[tuple[int, str, np.ndarray]]:
    """``(row number, word, vector)`` of a word2vec binary file."""
    with open(path, "rb") as handle:
        fields = handle.readline().split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            raise FormatError(
                path, 1, f"expected a '<count> <dimension>' header, got {b' '.join(fields)[:60]!r}"
            )
        count, dim = int(fields[0]), int(fields[1])
        width = 4 * dim
        for row in range(1, count + 1):
            word = bytearray()
            while True:
                char = handle.read(1)
                if not char:
                    raise FormatError(
                        path, None, f"truncated: the header announces {count} vectors, found {row - 1}"
                    )
                if char == b" ":
                    break
                if char != b"\n" or word:  # a newline after the previous vector belongs to no word
                    word += char
            data = handle.read(width)
            if len(data) != width:
                raise FormatError(path, None, f"truncated in vector {row} ({bytes(word)[:40]!r})")
            try:
                text = word.decode("utf-8")
            except UnicodeDecodeError:
                text = word.decode("latin-1")
            yield row, text, np.frombuffer(data, dtype="<f4").astype(np.float32)


def _gensim_vectors(path: Path) -> tuple[list[str], np.ndarray]:
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        raise MissingDependencyError(
            f"{path} is in gensim's own KeyedVectors format (a pickle); reading it needs gensim, which is"
            f" not installed. Either pip install gensim, or convert the file once where gensim is installed: "
            f"KeyedVectors.load('{path.name}').save_word2vec_format('vectors.bin', binary=True)"
        ) from None
    vectors = KeyedVectors.load(str(path))
    return list(vectors.index_to_key), np.asarray(vectors.vectors, dtype=np.float32)


def read_word_vectors(
    path: str | os.PathLike, binary: bool | None = None, no_header: bool = False
) -> tuple[list[str], np.ndarray]:
    """The words and ``[n, dim]`` float32 vectors of a local vector file (format guessed, see module doc).

    A word listed twice keeps its first vector. Malformed lines raise :class:`FormatError` with the line.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head[:1] == _PICKLE_MAGIC:
        return _gensim_vectors(path)
    if binary is None:
        binary = path.suffix == ".bin"
    rows = _binary_rows(path) if binary else _text_rows(path, no_header)
    words: list[str] = []
    seen: set[str] = set()
    vectors: list[np.ndarray] = []
    dim: int | None = None
    for line_no, word, vector in rows:
        if dim is None:
            dim = vector.shape[0]
        elif vector.shape[0] != dim:
            raise FormatError(path, line_no, f"expected {dim} numbers, got {vector.shape[0]}")
        if word in seen:
            continue
        seen.add(word)
        words.append(word)
        vectors.append(vector)
    if not words:
        raise FormatError(path, None, "no word vectors in the file")
    return words, np.stack(vectors)


def missing_vectors_error(name: str) -> EmbeddingFileNotFoundError:
    """The error for a ``WordEmbeddings`` name that is no local file (a Flair hub name or a wrong path)."""
    hub_file = FLAIR_HUB_FILES.get(name)
    match = _LANGUAGE_NAME.match(name)
    if hub_file is None and match is not None:
        kind = "crawl" if match.group(2) == "-crawl" else "wiki"
        hub_file = f"{match.group(1)}-{kind}-fasttext-300d-1M"
    how = (
        "Point it at a local file instead: WordEmbeddings('/path/to/vectors.txt') reads word2vec text or "
        "binary (.bin) and GloVe text (no header line), e.g. glove.6B.100d.txt from "
        "https://nlp.stanford.edu/projects/glove/ or a fastText .vec file from https://fasttext.cc"
    )
    if hub_file is not None:
        return EmbeddingFileNotFoundError(
            f"WordEmbeddings({name!r}): polytag found no local file named {name!r} and does not download "
            f"word vectors (Flair would fetch {FLAIR_EMBEDDINGS_URL}{hub_file}, a gensim pickle). {how}"
        )
    return EmbeddingFileNotFoundError(f"WordEmbeddings({name!r}): no such local file. {how}")


class WordEmbeddings(TokenEmbeddings):
    """Static word vectors from a local file (see the module docstring for formats and look-up).

    ``fine_tune=True`` trains the table; ``stable=True`` adds Flair's layer norm; ``field`` embeds a
    token label's value (e.g. ``"lemma"``) instead of the word. With ``embeddings=None``, ``vocab`` and
    ``embedding_length`` make an empty (zero) table to load weights into, as in Flair.
    ``force_cpu`` is accepted and ignored: the table moves with ``.to(device)`` like any torch module.
    """

    def __init__(
        self,
        embeddings: str | os.PathLike | None,
        field: str | None = None,
        fine_tune: bool = False,
        force_cpu: bool = True,
        stable: bool = False,
        no_header: bool = False,
        vocab: dict[str, int] | None = None,
        embedding_length: int | None = None,
        name: str | None = None,
        binary: bool | None = None,
    ) -> None:
        super().__init__()
        if embeddings is None:
            if vocab is None or embedding_length is None:
                raise ValueError("WordEmbeddings(None) needs vocab= and embedding_length=")
            self.vocab = dict(vocab)
            table = np.zeros((len(self.vocab), embedding_length), dtype=np.float32)
        else:
            path = Path(embeddings).expanduser()
            if not path.is_file():
                raise missing_vectors_error(str(embeddings))
            words, table = read_word_vectors(path, binary=binary, no_header=no_header)
            self.vocab = {word: i for i, word in enumerate(words)}
        self.name = name or str(embeddings)
        self.field = field
        self.fine_tune = fine_tune
        self.static_embeddings = not fine_tune
        self.embedding_length = int(table.shape[1])
        weights = torch.cat([torch.from_numpy(table), torch.zeros(1, self.embedding_length)])  # + <unk>
        self.embedding = torch.nn.Embedding.from_pretrained(weights, freeze=not fine_tune)
        self.layer_norm = (
            torch.nn.LayerNorm(self.embedding_length, elementwise_affine=fine_tune) if stable else None
        )
        self._index_cache: dict[str, int] = {}

    @property
    def unk_index(self) -> int:
        return len(self.vocab)

    def get_cached_token_index(self, word: str) -> int:
        """Row of ``word``: as is, lower-cased, digits as ``#``, as ``0``, else ``<unk>`` (Flair's order)."""
        index = self._index_cache.get(word)
        if index is None:
            lowered = word.lower()
            for candidate in (word, lowered, re.sub(r"\d", "#", lowered), re.sub(r"\d", "0", lowered)):
                if candidate in self.vocab:
                    index = self.vocab[candidate]
                    break
            else:
                index = self.unk_index
            if len(self._index_cache) < 1_000_000:
                self._index_cache[word] = index
        return index

    def _word(self, token: Any) -> str:
        return token.form if self.field is None else token.get_label(self.field).value

    def forward_batch(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        """``[B, T, embedding_length]`` vectors (zeros at padding)."""
        sentences = list(sentences)
        device = self.embedding.weight.device
        lengths, mask, width = pad_lengths(sentences, device)
        ids = torch.full((len(sentences), width), self.unk_index, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            if len(sentence):
                ids[row, : len(sentence)] = torch.tensor(
                    [self.get_cached_token_index(self._word(t)) for t in sentence]
                )
        vectors = self.embedding(ids.to(device))
        if self.layer_norm is not None:
            vectors = self.layer_norm(vectors)
        vectors = vectors * mask.unsqueeze(-1).to(vectors.dtype)
        return EmbeddingBatch(vectors, lengths, mask, None)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, words={len(self.vocab)}, embedding_length={self.embedding_length}"

    # -- model files (no pickle: the words go into the JSON config, the table into the tensors) ---------
    def to_config(self) -> dict[str, Any]:
        """Settings and vocabulary that rebuild this module offline (the vectors are its state dict)."""
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        if [self.vocab[w] for w in words] != list(range(len(words))):
            raise ValueError(
                f"WordEmbeddings {self.name!r}: the vocabulary's rows are not 0..{len(words) - 1}"
            )
        return {
            "class": type(self).__name__,
            "name": Path(self.name).name if os.sep in self.name else self.name,  # no local paths in files
            "field": self.field,
            "fine_tune": bool(self.fine_tune),
            "stable": self.layer_norm is not None,
            "embedding_length": self.embedding_length,
            "vocab": words,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], header_shapes: Any = None) -> WordEmbeddings:
        """Rebuild from :meth:`to_config` output with a zero table (the caller loads the state dict next);
        allocates on the current default device, so a ``meta`` skeleton costs nothing. ``header_shapes``
        is accepted for the loader's uniform call; the loader compares the whole state dict itself."""
        from polytag.errors import ModelFileError

        words, dim = config.get("vocab"), config.get("embedding_length")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ModelFileError("WordEmbeddings config entry 'vocab': expected a list of words")
        if len(set(words)) != len(words):
            raise ModelFileError("WordEmbeddings config entry 'vocab': a word is listed twice")
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= 65536:
            raise ModelFileError(
                f"WordEmbeddings config entry 'embedding_length': expected 1..65536, got {dim!r}"
            )
        for key in ("fine_tune", "stable"):
            if not isinstance(config.get(key, False), bool):
                raise ModelFileError(f"WordEmbeddings config entry {key!r}: expected true or false")
        for key in ("name", "field"):
            if config.get(key) is not None and not isinstance(config[key], str):
                raise ModelFileError(f"WordEmbeddings config entry {key!r}: expected a string")
        module = cls.__new__(cls)
        TokenEmbeddings.__init__(module)
        fine_tune = bool(config.get("fine_tune", False))
        module.vocab = {word: i for i, word in enumerate(words)}
        module.name = config.get("name") or "WordEmbeddings"
        module.field = config.get("field")
        module.fine_tune = fine_tune
        module.static_embeddings = not fine_tune
        module.embedding_length = dim
        module.embedding = torch.nn.Embedding(len(words) + 1, dim)  # + <unk>
        module.embedding.weight.requires_grad_(fine_tune)
        stable = bool(config.get("stable", False))
        module.layer_norm = torch.nn.LayerNorm(dim, elementwise_affine=fine_tune) if stable else None
        module._index_cache = {}
        return module
