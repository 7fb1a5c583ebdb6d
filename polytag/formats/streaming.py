"""Old home of the on-demand readers, kept so that ``polytag.formats.streaming`` imports keep working.

The index base class is in :mod:`polytag.formats.indexed`, each format's index beside its reader
(:mod:`~polytag.formats.column_index`, :mod:`~polytag.formats.conllu_index`,
:mod:`~polytag.formats.jsonl_index`); ``dataset_token_counts`` and ``is_lazy`` are questions about
datasets and live in :mod:`polytag.data.sizes`.
"""

from polytag.data.sizes import dataset_token_counts, is_lazy
from polytag.formats.column_index import IndexedColumnFile
from polytag.formats.conllu_index import IndexedConlluFile
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.jsonl_index import IndexedJsonlFile

__all__ = [
    "IndexedColumnFile",
    "IndexedConlluFile",
    "IndexedJsonlFile",
    "IndexedSentenceFile",
    "dataset_token_counts",
    "is_lazy",
]
