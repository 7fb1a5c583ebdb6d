"""``polytag zelda-convert``: ZELDA's candidate pickle, read safely once, written as a TSV that loads fast.

``CandidateGenerator("zelda")`` reads ZELDA's ``zelda_mention_entities_counter.pickle`` as downloaded,
through the restricted reader (:mod:`polytag.datasets.zelda_pickle`), which walks every opcode in Python
first: about a minute for a gigabyte. This command does that once and writes
``zelda/zelda_mention_entities_counter.tsv``, which ``CandidateGenerator("zelda")`` reads first.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from polytag.cli.inputs import UsageError


def run_zelda_convert(pickle_path: str | None = None, output: str | None = None) -> dict[str, Any]:
    """Convert ZELDA's counter pickle (found in the datasets folder unless given) to the candidate TSV."""
    from polytag.datasets.base import datasets_root
    from polytag.datasets.candidates import (
        ZELDA_CANDIDATE_FILES,
        clean_zelda_counter,
        find_zelda_counter_pickle,
        write_candidate_file,
    )
    from polytag.datasets.zelda_pickle import read_mention_entities_counter

    folder = datasets_root() / "zelda"
    source = Path(pickle_path) if pickle_path else find_zelda_counter_pickle(folder)
    if source is None or not source.is_file():
        raise UsageError(
            f"ZELDA's zelda_mention_entities_counter.pickle not found ({pickle_path or folder}); "
            "give its path, or put it into <datasets>/zelda/other/"
        )
    target = Path(output) if output else folder / ZELDA_CANDIDATE_FILES[1]
    table = clean_zelda_counter(read_mention_entities_counter(source), source.name)
    written, skipped = write_candidate_file(table, target)
    print(
        f"{source} -> {target}: {len(table)} mentions, {written} (mention, entity) rows"
        + (f"; {skipped} skipped (a tab or line break in the mention or title)" if skipped else "")
    )
    return {"source": str(source), "output": str(target), "mentions": len(table), "rows": written}


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``zelda-convert`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    convert = commands.add_parser(
        "zelda-convert",
        parents=[common],
        help="read ZELDA's candidate pickle safely and write it as a TSV (loads fast afterwards)",
    )
    convert.add_argument(
        "pickle",
        nargs="?",
        help="zelda_mention_entities_counter.pickle (default: found under $POLYTAG_DATASETS/zelda)",
    )
    convert.add_argument(
        "-o",
        "--output",
        help="TSV to write (default: $POLYTAG_DATASETS/zelda/zelda_mention_entities_counter.tsv)",
    )
    convert.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    run_zelda_convert(args.pickle, args.output)
    return 0
