"""Universal Dependencies treebanks of more languages, with Flair's class names (``UD_GERMAN`` ...).

Each reads ``<datasets>/ud_<language>/`` holding the official CoNLL-U files of its treebank, e.g.
``ud_german/de_gsd-ud-{train,dev,test}.conllu`` (UD_German-GSD) or ``ud_dutch/nl_alpino-ud-*.conllu``
(UD_Dutch-Alpino); missing files are downloaded from the treebank's GitHub repository at ``revision``
when online. Label types as :class:`~polytag.datasets.UD_ENGLISH`: ``upos``, ``pos``, ``lemma``, ``head``,
``deprel``.
"""

from __future__ import annotations

from polytag.datasets.treebanks import UDTreebankCorpus


class UD_GERMAN(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_german", "UD_German-GSD", "de_gsd"


class UD_DUTCH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_dutch", "UD_Dutch-Alpino", "nl_alpino"


class UD_FRENCH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_french", "UD_French-GSD", "fr_gsd"


class UD_ITALIAN(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_italian", "UD_Italian-ISDT", "it_isdt"


class UD_SPANISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_spanish", "UD_Spanish-GSD", "es_gsd"


class UD_PORTUGUESE(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_portuguese", "UD_Portuguese-Bosque", "pt_bosque"


class UD_CATALAN(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_catalan", "UD_Catalan-AnCora", "ca_ancora"


class UD_POLISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_polish", "UD_Polish-LFG", "pl_lfg"


class UD_SWEDISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_swedish", "UD_Swedish-Talbanken", "sv_talbanken"


class UD_DANISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_danish", "UD_Danish-DDT", "da_ddt"


class UD_NORWEGIAN(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_norwegian", "UD_Norwegian-Bokmaal", "no_bokmaal"


class UD_FINNISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_finnish", "UD_Finnish-TDT", "fi_tdt"


class UD_BASQUE(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_basque", "UD_Basque-BDT", "eu_bdt"


class UD_TURKISH(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_turkish", "UD_Turkish-IMST", "tr_imst"


class UD_ARABIC(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_arabic", "UD_Arabic-PADT", "ar_padt"


class UD_HEBREW(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_hebrew", "UD_Hebrew-HTB", "he_htb"


class UD_HINDI(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_hindi", "UD_Hindi-HDTB", "hi_hdtb"


class UD_JAPANESE(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_japanese", "UD_Japanese-GSD", "ja_gsd"


class UD_CHINESE(UDTreebankCorpus):
    FOLDER, REPOSITORY, PREFIX = "ud_chinese", "UD_Chinese-GSD", "zh_gsd"


UD_LANGUAGE_CORPORA = tuple(cls for cls in UDTreebankCorpus.__subclasses__())
