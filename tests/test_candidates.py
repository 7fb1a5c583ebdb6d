"""CandidateGenerator: sources, back-off look-up, top_k, recall@k, compact storage and fast loading."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.nn.candidates import CandidateError, CandidateGenerator, casefold_key, normalised_key


def _table() -> dict:
    return {
        "Exxon": {"ExxonMobil": 1143, "Exxon": 701, "Exxon_Valdez_oil_spill": 347},
        "U.S.": {"United_States": 9000, "United_States_dollar": 50},
        "US": {"United_States": 9000, "Ultrasound": 10},
        "NEW YORK": {"New_York_City": 500},
        "New York": {"New_York_City": 500, "New_York_(state)": 400},
    }


def test_lookup_orders_by_prior_and_reports_shares() -> None:
    generator = CandidateGenerator(_table())
    assert generator.lookup("Exxon") == [
        ("ExxonMobil", 1143.0),
        ("Exxon", 701.0),
        ("Exxon_Valdez_oil_spill", 347.0),
    ]
    ids, priors, total = generator.lookup_ids("Exxon")
    assert total == pytest.approx(1143 + 701 + 347)
    assert [generator.entities[i] for i in ids] == ["ExxonMobil", "Exxon", "Exxon_Valdez_oil_spill"]
    assert generator.get_candidates("Exxon") == {"ExxonMobil", "Exxon", "Exxon_Valdez_oil_spill"}
    assert generator.get_candidates("nowhere") == set()
    assert "Exxon" in generator and "nowhere" not in generator


def test_backoff_levels_exact_then_case_then_punctuation() -> None:
    generator = CandidateGenerator(_table())
    # exact surface wins over a back-off key shared by other surfaces
    assert [e for e, _ in generator.lookup("NEW YORK")] == ["New_York_City"]
    # level 2: case and whitespace; the two surfaces with key "new york" are merged (max of priors)
    assert [e for e, _ in generator.lookup("new   york")] == ["New_York_City", "New_York_(state)"]
    # level 3: punctuation removed ("U.S." -> "us") merges U.S. and US
    merged = dict(generator.lookup("u.s"))
    assert merged == {"United_States": 9000.0, "United_States_dollar": 50.0, "Ultrasound": 10.0}
    assert CandidateGenerator(_table(), backoff=False).lookup("new york") == []
    assert casefold_key("  NEW \t York ") == "new york"
    assert normalised_key("Lloyd 's") == "lloyd s"
    assert normalised_key("U.S.") == "us"


def test_sum_merge_adds_counts_of_surfaces_sharing_a_key() -> None:
    generator = CandidateGenerator(
        {"Paris": {"Paris": 3}, "PARIS": {"Paris": 2, "Paris_Hilton": 1}}, merge="sum"
    )
    assert generator.lookup("paris") == [("Paris", 5.0), ("Paris_Hilton", 1.0)]


def test_top_k_cuts_lists_but_share_uses_the_whole_list() -> None:
    generator = CandidateGenerator(_table(), top_k=2)
    ids, priors, total = generator.lookup_ids("Exxon")
    assert len(ids) == 2 and total == pytest.approx(1143 + 701 + 347)
    with pytest.raises(CandidateError):
        CandidateGenerator(_table(), top_k=0)


def test_mapping_forms_and_bad_input() -> None:
    plain = CandidateGenerator({"Paris": ["Paris", "Paris_Hilton"]})
    assert {e for e, p in plain.lookup("Paris")} == {"Paris", "Paris_Hilton"}
    assert all(p == 1.0 for _, p in plain.lookup("Paris"))
    pairs = CandidateGenerator({"Paris": [("Paris", 2), ("Paris_Hilton", 7)]})
    assert pairs.lookup("Paris")[0] == ("Paris_Hilton", 7.0)
    with pytest.raises(CandidateError):
        CandidateGenerator({"Paris": "Paris"})
    with pytest.raises(CandidateError):
        CandidateGenerator({"Paris": [("Paris", -1)]})
    with pytest.raises(CandidateError):
        CandidateGenerator({"bad\x00mention": ["X"]})


def test_tsv_file_with_header_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "candidates.tsv"
    path.write_text(
        "mention\ttitle\tin_count\trank\nExxon\tExxonMobil\t1143\t0\nExxon\tExxon\t701\t1\n"
        '"\t"Quote"_(song)\t3\t0\n',
        encoding="utf-8",
    )
    generator = CandidateGenerator(path)
    assert generator.lookup("Exxon") == [("ExxonMobil", 1143.0), ("Exxon", 701.0)]
    assert generator.lookup('"') == [('"Quote"_(song)', 3.0)]
    assert CandidateGenerator(tmp_path).lookup("Exxon")[0][0] == "ExxonMobil"  # a folder with candidates.tsv
    bad = tmp_path / "bad.tsv"
    bad.write_text("Exxon\tExxonMobil\t12\nExxon\tExxon\tmany\n", encoding="utf-8")
    with pytest.raises(FormatError) as info:
        CandidateGenerator(bad)
    assert info.value.line == 2
    with pytest.raises(DatasetNotFoundError):
        CandidateGenerator(tmp_path / "missing.tsv")


def test_to_tsv_round_trip(tmp_path: Path) -> None:
    generator = CandidateGenerator(_table())
    generator.to_tsv(tmp_path / "out.tsv")
    again = CandidateGenerator(tmp_path / "out.tsv")
    for mention in _table():
        assert again.lookup(mention) == generator.lookup(mention)


def _sentences() -> list[Sentence]:
    first = Sentence("Exxon and U.S. officials met in New York .")
    first[0:1].add_label("nel", "ExxonMobil")
    first[2:3].add_label("nel", "United_States")
    first[6:8].add_label("nel", "New_York_(state)")
    second = Sentence("Exxon said nothing .")
    second[0:1].add_label("nel", "Exxon_Valdez_oil_spill")
    third = Sentence("Acme rose .")
    third[0:1].add_label("nel", "Acme_Corporation")
    return [first, second, third]


def test_recall_at_k_on_gold_spans() -> None:
    generator = CandidateGenerator(_table())
    recall = generator.recall_at_k(_sentences(), "nel", ks=(1, 2, 3))
    # ranks: ExxonMobil 1, United_States 1, New_York_(state) 2, Exxon_Valdez_oil_spill 3, Acme: no list
    assert recall == {1: pytest.approx(2 / 5), 2: pytest.approx(3 / 5), 3: pytest.approx(4 / 5)}


def test_from_corpus_counts_gold_spans() -> None:
    generator = CandidateGenerator.from_corpus(_sentences() + _sentences()[:1], "nel")
    assert generator.lookup("Exxon") == [("ExxonMobil", 2.0), ("Exxon_Valdez_oil_spill", 1.0)]
    assert generator.lookup("New York") == [("New_York_(state)", 2.0)]
    assert generator.merge == "sum"


def test_state_dict_round_trip_rebuilds_lookup() -> None:
    generator = CandidateGenerator(_table(), top_k=5)
    config = generator.to_config()
    copy = CandidateGenerator.from_config(config)
    assert copy.lookup("Exxon") == []  # empty until the tensors arrive
    copy.load_state_dict(generator.state_dict())
    for mention in ["Exxon", "u.s", "new york", "NEW YORK"]:
        assert copy.lookup(mention) == generator.lookup(mention)
    assert all(
        t.dtype in (torch.uint8, torch.int32, torch.int64, torch.float32)
        for t in generator.state_dict().values()
    )


def _million_mention_tables(n: int) -> tuple[dict, dict]:
    """The buffers of an n-mention table made directly with numpy (building it through Python dicts
    would take the test's time); each mention lists ``Entity_{i % 50000}`` and ``Other_{i % 3}``."""
    import numpy as np

    def blob(strings: list[str]) -> torch.Tensor:
        return torch.from_numpy(np.frombuffer("\x00".join(strings).encode("utf-8"), dtype=np.uint8).copy())

    i = np.arange(n)
    entities = [f"Entity_{k}" for k in range(50_000)] + [f"Other_{k}" for k in range(3)]
    ids = np.stack([i % 50_000, 50_000 + i % 3], axis=1).reshape(-1).astype(np.int32)
    priors = np.stack([(i % 7 + 1).astype(np.float32), np.ones(n, dtype=np.float32)], axis=1).reshape(-1)
    empty_level = {
        "blob": torch.zeros(0, dtype=torch.uint8),
        "offsets": torch.zeros(1, dtype=torch.int64),
        "ids": torch.zeros(0, dtype=torch.int32),
    }
    state = {
        "entity_blob": blob(entities),
        "mention_blob": blob([f"mention {k}" for k in range(n)]),
        "mention_offsets": torch.arange(0, 2 * n + 1, 2, dtype=torch.int64),
        "mention_ids": torch.from_numpy(ids),
        "mention_priors": torch.from_numpy(priors),
        **{f"level{level}_{kind}": t for level in (1, 2) for kind, t in empty_level.items()},
    }
    config = {
        "backoff": False,
        "top_k": None,
        "merge": "max",
        "sizes": {name: int(t.numel()) for name, t in state.items()},
    }
    return config, state


def test_a_million_mentions_load_fast() -> None:
    """Rebuilding a 1M-mention table from its tensors, as Model.load does, and a first look-up are quick."""
    n = 1_000_000
    config, state = _million_mention_tables(n)
    started = time.perf_counter()
    loaded = CandidateGenerator.from_config(config)
    loaded.load_state_dict(state)
    assert loaded.lookup("mention 123456") == [("Entity_23456", 5.0), ("Other_0", 1.0)]
    elapsed = time.perf_counter() - started
    assert len(loaded) == n and len(loaded.entities) == 50_003
    assert elapsed < 5.0, f"loading and a first look-up took {elapsed:.2f}s"
    stored = sum(t.numel() * t.element_size() for t in loaded.state_dict().values())
    assert stored < 40 * n  # a few tens of bytes per mention, no per-object overhead


def test_build_save_load_round_trip_of_a_large_table() -> None:
    n = 50_000
    table = {
        f"mention {i}": {f"Entity_{i % 5_000}": float(i % 7 + 1), f"Other_{i % 3}": 1.0} for i in range(n)
    }
    generator = CandidateGenerator(table)
    loaded = CandidateGenerator.from_config(generator.to_config())
    loaded.load_state_dict(generator.state_dict())
    for mention in ("mention 0", "mention 49999", "MENTION 123", "mention-77"):
        assert loaded.lookup(mention) == generator.lookup(mention)
    assert loaded.lookup("MENTION 123") == [("Entity_123", 5.0), ("Other_0", 1.0)]  # case back-off


def test_zelda_name_reads_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    with pytest.raises(DatasetNotFoundError):
        CandidateGenerator("zelda")
    folder = tmp_path / "zelda"
    folder.mkdir()
    (folder / "zelda_train.conll").write_text(
        "-DOCSTART-\n\nJapan\tB-1\tB-Japan_national_football_team\nwon\tO\tO\n\n"
        "Japan\tB-2\tB-Japan\nis\tO\tO\n\nJapan\tB-2\tB-Japan\n\n",
        encoding="utf-8",
    )
    generator = CandidateGenerator("zelda")
    assert generator.lookup("Japan") == [("Japan", 2.0), ("Japan_national_football_team", 1.0)]
    (folder / "candidates.tsv").write_text("Japan\tJapan\t10\n", encoding="utf-8")
    assert CandidateGenerator("zelda").lookup("Japan") == [("Japan", 10.0)]


def test_zelda_table_is_a_datasets_function(tmp_path: Path) -> None:
    from polytag.datasets import zelda_candidate_table

    with pytest.raises(DatasetNotFoundError, match="no ZELDA candidates"):
        zelda_candidate_table(tmp_path)
    folder = tmp_path / "zelda"
    folder.mkdir()
    (folder / "zelda_mention_entities_counter.tsv").write_text(
        "mention\tentity\tcount\nJapan\tJapan\t3\nJapan\tJapan_(band)\t1\n", encoding="utf-8"
    )
    assert zelda_candidate_table(tmp_path) == {"Japan": {"Japan": 3.0, "Japan_(band)": 1.0}}


def test_a_damaged_config_is_refused() -> None:
    config = CandidateGenerator(_table()).to_config()
    config["sizes"]["surprise_blob"] = 3
    with pytest.raises(CandidateError):
        CandidateGenerator.from_config(config)
    config = CandidateGenerator(_table()).to_config()
    config["sizes"]["mention_ids"] = -1
    with pytest.raises(CandidateError):
        CandidateGenerator.from_config(config)
