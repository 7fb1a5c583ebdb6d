"""Corpus file formats: column (CoNLL), CoNLL-U, fastText, CSV and JSON lines.

Every reader raises :class:`polytag.errors.FormatError` (file, line, what was expected) on malformed
input and skips nothing silently; every writer writes atomically (temporary file, then rename). Files too
large for memory are read on demand by the ``Indexed*File`` classes (``in_memory=False``). Each format
registers one :class:`FormatSpec` (name, extensions, readers, writer) in :mod:`polytag.formats.registry`;
ask ``get_format(name)`` / ``format_for_path(path)`` instead of keeping a list of formats.
"""

from polytag.data.sizes import dataset_token_counts
from polytag.formats.column import iter_column_file, read_column_file, write_column_file
from polytag.formats.column_index import IndexedColumnFile
from polytag.formats.conllu import iter_conllu_file, read_conllu_file, write_conllu_file
from polytag.formats.conllu_index import IndexedConlluFile
from polytag.formats.csv_format import read_csv_file, write_csv_file
from polytag.formats.fasttext import read_fasttext_file, write_fasttext_file
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.jsonl import iter_jsonl_file, read_jsonl_file, write_jsonl_file
from polytag.formats.jsonl_index import IndexedJsonlFile
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.registry import FormatSpec, UnknownFormatError, format_for_path, format_names, get_format
from polytag.formats.tags import decode_tags, encode_spans

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_SENTENCE_TOKENS",
    "FormatSpec",
    "IndexedColumnFile",
    "IndexedConlluFile",
    "IndexedJsonlFile",
    "IndexedSentenceFile",
    "UnknownFormatError",
    "dataset_token_counts",
    "decode_tags",
    "encode_spans",
    "format_for_path",
    "format_names",
    "get_format",
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
