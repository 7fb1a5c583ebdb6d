"""Corpus file formats: column (CoNLL), CoNLL-U, fastText, CSV and JSON lines.

Every reader raises :class:`polytag.errors.FormatError` (file, line, what was expected) on malformed
input and skips nothing silently; every writer writes atomically (temporary file, then rename). Files too
large for memory are read on demand by the ``Indexed*File`` classes of :mod:`polytag.formats.streaming`
(``in_memory=False``).
"""

from polytag.formats.column import iter_column_file, read_column_file, write_column_file
from polytag.formats.conllu import iter_conllu_file, read_conllu_file, write_conllu_file
from polytag.formats.csv_format import read_csv_file, write_csv_file
from polytag.formats.fasttext import read_fasttext_file, write_fasttext_file
from polytag.formats.jsonl import iter_jsonl_file, read_jsonl_file, write_jsonl_file
from polytag.formats.streaming import (
    IndexedColumnFile,
    IndexedConlluFile,
    IndexedJsonlFile,
    IndexedSentenceFile,
    dataset_token_counts,
)
from polytag.formats.tags import decode_tags, encode_spans

__all__ = [
    "IndexedColumnFile",
    "IndexedConlluFile",
    "IndexedJsonlFile",
    "IndexedSentenceFile",
    "dataset_token_counts",
    "decode_tags",
    "encode_spans",
    "iter_column_file",
    "iter_conllu_file",
    "iter_jsonl_file",
    "read_column_file",
    "read_conllu_file",
    "read_csv_file",
    "read_fasttext_file",
    "read_jsonl_file",
    "write_column_file",
    "write_conllu_file",
    "write_csv_file",
    "write_fasttext_file",
    "write_jsonl_file",
]
