"""Named corpora with Flair's names: ``UD_ENGLISH(base_path=X)`` reads ``X/ud_english/``.

Without ``base_path`` the corpora live under ``$POLYTAG_DATASETS``, else ``~/.polytag/datasets``.
Local files are read first; public corpora are downloaded when missing (not with
``POLYTAG_OFFLINE=1``), and a missing corpus raises
:class:`~polytag.errors.DatasetNotFoundError` naming the files to put where.
"""

from polytag.data import FlairDatapointDataset, SentenceDataset
from polytag.datasets.aida_nel import AIDA_NEL, load_candidate_table
from polytag.datasets.base import (
    AmbiguousSplitError,
    datasets_root,
    find_train_dev_test_files,
)
from polytag.datasets.candidates import count_linked_spans, read_candidate_file, zelda_candidate_table
from polytag.datasets.cleanconll import CLEANCONLL, build_cleanconll
from polytag.datasets.document_classification import AGNEWS, ClassificationCorpus, CSVClassificationCorpus
from polytag.datasets.entity_linking import ZELDA
from polytag.datasets.imdb import IMDB
from polytag.datasets.sequence_labeling import (
    CONLL_03,
    CONLL_2000,
    NER_MULTI_WIKINER,
    ColumnCorpus,
    ColumnDataset,
    MultiFileColumnCorpus,
)
from polytag.datasets.trec import TREC_6, TREC_50
from polytag.datasets.treebanks import UD_ENGLISH, UniversalDependenciesCorpus, UniversalDependenciesDataset
from polytag.datasets.ud_languages import (
    UD_ARABIC,
    UD_BASQUE,
    UD_CATALAN,
    UD_CHINESE,
    UD_DANISH,
    UD_DUTCH,
    UD_FINNISH,
    UD_FRENCH,
    UD_GERMAN,
    UD_HEBREW,
    UD_HINDI,
    UD_ITALIAN,
    UD_JAPANESE,
    UD_NORWEGIAN,
    UD_POLISH,
    UD_PORTUGUESE,
    UD_SPANISH,
    UD_SWEDISH,
    UD_TURKISH,
    UDTreebankCorpus,
)
from polytag.datasets.wnut import WNUT_17

__all__ = [
    "AGNEWS",
    "AIDA_NEL",
    "CLEANCONLL",
    "CONLL_03",
    "CONLL_2000",
    "NER_MULTI_WIKINER",
    "IMDB",
    "TREC_6",
    "TREC_50",
    "UD_ARABIC",
    "UD_BASQUE",
    "UD_CATALAN",
    "UD_CHINESE",
    "UD_DANISH",
    "UD_DUTCH",
    "UD_ENGLISH",
    "UD_FINNISH",
    "UD_FRENCH",
    "UD_GERMAN",
    "UD_HEBREW",
    "UD_HINDI",
    "UD_ITALIAN",
    "UD_JAPANESE",
    "UD_NORWEGIAN",
    "UD_POLISH",
    "UD_PORTUGUESE",
    "UD_SPANISH",
    "UD_SWEDISH",
    "UD_TURKISH",
    "UDTreebankCorpus",
    "WNUT_17",
    "ZELDA",
    "AmbiguousSplitError",
    "CSVClassificationCorpus",
    "ClassificationCorpus",
    "ColumnCorpus",
    "ColumnDataset",
    "FlairDatapointDataset",
    "MultiFileColumnCorpus",
    "SentenceDataset",
    "UniversalDependenciesCorpus",
    "UniversalDependenciesDataset",
    "build_cleanconll",
    "count_linked_spans",
    "datasets_root",
    "find_train_dev_test_files",
    "load_candidate_table",
    "read_candidate_file",
    "zelda_candidate_table",
]
