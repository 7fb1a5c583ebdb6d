"""The rows of the README's benchmark table for ``bench/report.py``: what each runs and how its cell reads.

A row names its program(s) with their arguments (``{data}``, ``{encoder}``, ``{json}``, ``{out}``,
``{rounds}``, ``{modes}`` are filled in by the runner), the torch threads of each, the interleaved rounds,
a cost estimate on 2 quiet cores, and a formatter that turns the figures of every round (the JSON each
program prints last, or writes to ``{json}``) into the README cell. Rows with reduced settings say so in
their ``what`` text.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Figures = dict[str, list[dict[str, Any]]]  # system name -> its figures, one dict per round


@dataclass
class System:
    """One program run of a row: its arguments (``{data}``, ``{encoder}``, ``{json}``, ``{out}``,
    ``{rounds}``, ``{modes}`` are filled in), which Python runs it, and its torch threads."""

    name: str
    argv: list[str]
    flair: bool = False
    threads: int | None = None
    quick: list[str] | None = None  # tiny settings for --quick; rows without any are skipped there
    all_lines: bool = False  # the program prints one JSON line per run: keep them all as {"runs": [...]}


@dataclass
class Row:
    name: str
    what: str
    program: str
    systems: list[System]
    format: Callable[[Figures], str]
    minutes: float  # estimate on 2 quiet cores
    rounds: int = 1
    inner_rounds: bool = False  # the program interleaves its own rounds (given as {rounds})
    notes: list[str] = field(default_factory=list)


# -- formatting helpers -------------------------------------------------------------------------------


def values(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in runs if r.get(key) is not None]


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(values(runs, key))


def spread(numbers: list[float], digits: int = 1) -> str:
    """The value, or "median (min-max)" over rounds."""
    if len(numbers) == 1:
        return f"{numbers[0]:,.{digits}f}"
    return f"{statistics.median(numbers):,.{digits}f} ({min(numbers):,.{digits}f}-{max(numbers):,.{digits}f})"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def get(d: Any, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


# -- row formatters (figures of every round -> the README cell) -----------------------------------------


def fmt_read_ewt(f: Figures) -> str:
    runs = f["read"]
    return (
        f"{spread(values(runs, 'best_s'), 2)} s, best of {len(runs[0]['runs'])} (first run "
        f"{spread(values(runs, 'first_s'), 2)} s; target < {runs[0]['target_s']:g} s)"
    )


PREDICT_NAMES = {"flair-0.15.1": "Flair 0.15.1", "hf-loop": "plain HF loop"}


def fmt_predict(f: Figures) -> str:
    figures = f["predict"][-1]
    parts = []
    for threads, systems in figures["threads"].items():
        cells = []
        for name, row in systems.items():
            label = PREDICT_NAMES.get(name, name.replace("polytag-", "polytag "))
            cell = f"{label} {spread(row['rounds'])}"
            if name == "polytag-fp32" and row.get("vs_flair"):
                cell += f" ({row['vs_flair']:.2f}x Flair)"
            elif name != "polytag-fp32" and row.get("vs_polytag_fp32"):
                cell += f" ({row['vs_polytag_fp32']:.2f}x polytag fp32"
                cell += (
                    f", {row['vs_flair']:.2f}x Flair)" if row.get("vs_flair") and "flair" not in name else ")"
                )
            cells.append(cell)
        parts.append(f"{threads} thread{'s' if threads != '1' else ''}: " + ", ".join(cells))
    text = "; ".join(parts) + " sentences/s"
    for note in figures.get("notes", []):
        text += f" ({note.split(':')[0]})"
    return text


def fmt_pos(f: Figures) -> str:
    ours, flair = f["polytag"], f.get("flair")
    text = f"XPOS {spread(values(ours, 'score'), 4)}"
    if flair:
        text += f" vs Flair {spread(values(flair, 'score'), 4)}"
    text += f"; int8 {spread(values(ours, 'score_int8'), 4)}"
    text += f"; train {spread(values(ours, 'train_sentences_per_s'))}"
    if flair:
        train_ratio = ratio(med(ours, "train_sentences_per_s"), med(flair, "train_sentences_per_s"))
        text += f" vs {spread(values(flair, 'train_sentences_per_s'))} sentences/s ({train_ratio})"
        text += (
            f"; peak RSS {med(ours, 'peak_rss_mb') / 1000:.2f} vs {med(flair, 'peak_rss_mb') / 1000:.2f} GB"
        )
    else:
        text += f" sentences/s; peak RSS {med(ours, 'peak_rss_mb') / 1000:.2f} GB"
    return text


def fmt_ner(f: Figures) -> str:
    ours, flair = f["polytag"], f.get("flair")
    text = f"test F1 {spread(values(ours, 'score'), 4)}"
    if flair:
        text += f" vs Flair {spread(values(flair, 'score'), 4)}"
    delta = 100 * (med(ours, "score_int8") - med(ours, "score"))
    speed = ratio(med(ours, "predict_int8_sentences_per_s"), med(ours, "predict_sentences_per_s"))
    text += (
        f"; int8 {delta:+.2f} F1 at {speed} fp32 speed; train {spread(values(ours, 'train_sentences_per_s'))}"
    )
    if flair:
        text += f" sentences/s (Flair {spread(values(flair, 'train_sentences_per_s'))})"
    return text


def fmt_agnews(f: Figures) -> str:
    ours = f["polytag"]
    return (
        f"test accuracy {spread(values(ours, 'score'), 4)}, int8 {spread(values(ours, 'score_int8'), 4)}; "
        f"train {spread(values(ours, 'train_sentences_per_s'))} docs/s, predict "
        f"{spread(values(ours, 'predict_sentences_per_s'))} (fp32) / "
        f"{spread(values(ours, 'predict_int8_sentences_per_s'))} (int8)"
    )


def fmt_bare(f: Figures) -> str:
    runs = f["bare"]
    ours_p, bare_p = med(runs, "polytag_embeddings_predict_per_s"), med(runs, "bare_predict_per_s")
    ours_t, bare_t = med(runs, "polytag_embeddings_train_per_s"), med(runs, "bare_train_per_s")
    return (
        f"interleaved in one process: predict {ours_p:.1f} vs bare {bare_p:.1f} sentences/s "
        f"({ratio(ours_p, bare_p)}), forward+backward {ours_t:.1f} vs {bare_t:.1f} ({ratio(ours_t, bare_t)})"
    )


def fmt_trainer(f: Figures) -> str:
    fixed, budget = f["fixed"], f["budget"]
    speed = ratio(med(budget, "sentences_per_s"), med(fixed, "sentences_per_s"))
    outside = ", ".join(f"{100 * v:.2f}" for v in values(budget, "outside_share"))
    return (
        f"budget {budget[-1]['budget']} subtokens: {spread(values(budget, 'sentences_per_s'))} vs "
        f"{spread(values(fixed, 'sentences_per_s'))} sentences/s ({speed}) at XPOS "
        f"{med(budget, 'test_accuracy'):.4f} vs {med(fixed, 'test_accuracy'):.4f}; outside the encoder's "
        f"forward and backward {outside} % (optimizer step, clipping and zero_grad "
        f"{100 * med(budget, 'optimizer_share'):.1f} points of it) / "
        f"{100 * med(fixed, 'outside_share'):.1f} %; "
        f"peak RSS {med(budget, 'peak_rss_mb') / 1000:.2f} / {med(fixed, 'peak_rss_mb') / 1000:.2f} GB"
    )


def fmt_aida(f: Figures) -> str:
    """``aida_nel.py --seeds``: each headline figure as mean (min-max) over seeds, with its target."""
    summary = f["aida"][-1]
    parts = []
    for name, row in summary["figures"].items():
        parts.append(
            f"{name} {row['mean']:.3f} ({row['min']:.3f}-{row['max']:.3f}; target {row['floor']:.2f})"
        )
    speed = summary.get("mentions_per_second") or []
    epoch = summary.get("seconds_per_epoch") or []
    total = summary.get("total_seconds") or []
    return (
        f"{len(summary['seeds'])} seeds: "
        + ", ".join(parts)
        + f"; popularity floor {summary['popularity_baseline']:.3f}"
        + (f"; {min(speed):.0f}-{max(speed):.0f} mentions/s" if speed else "")
        + (
            f"; {min(epoch):.0f}-{max(epoch):.0f} s per epoch, {max(total) / 60:.0f} min per seed"
            " (two seeds at once, one thread each)"
            if epoch and total
            else ""
        )
    )


def fmt_serve_load(f: Figures) -> str:
    """Tolerant: ``{"clients": {"16": {...}}}`` per client count, or the older batched/one-at-a-time."""
    figures = f["serve"][-1]
    figures = figures.get("summary", figures)  # the --json file wraps the figures
    clients = figures.get("clients")
    if isinstance(clients, dict):
        parts = []
        for count, c in clients.items():
            rps = get(c, "server_requests_per_second") or get(c, "server_requests_per_s")
            offline = get(c, "offline_sentences_per_second") or get(c, "offline_sentences_per_s")
            cell = f"{count} clients: {rps:.1f} req/s" if rps is not None else f"{count} clients:"
            if offline:
                cell += f" vs offline {offline:.1f} sentences/s ({get(c, 'ratio') or rps / offline:.2f}x)"
            p50, p99 = get(c, "p50_ms") or get(c, "p50"), get(c, "p99_ms") or get(c, "p99")
            if p50 is not None:
                cell += f", p50 {p50} / p99 {p99} ms"
            batch = get(c, "sentences_per_call") or get(c, "mean_batch")
            if batch is not None:
                cell += f", {batch} sentences per predict call (offline at that batch)"
            cell += f", {get(c, 'errors', default=0)} errors"
            parts.append(cell)
        return "; ".join(parts)
    batched, single = figures["batched"], figures["one_at_a_time"]
    return (
        f"{batched['errors'] + single['errors']} errors; batched "
        f"{batched['requests_per_second']:.1f} req/s vs "
        f"{single['requests_per_second']:.1f} one at a time ({figures['speedup']:.1f}x); p50 "
        f"{batched['latency_ms']['p50']} ms batched"
    )


def fmt_stream(f: Figures) -> str:
    runs = f["stream"][-1]["runs"]
    first, last = runs[0], runs[-1]
    return (
        f"peak RSS {last['peak_rss_mb']:.0f} MB for {last['sentences']:,} sentences vs "
        f"{first['peak_rss_mb']:.0f} MB for {first['sentences']:,} "
        f"({ratio(last['peak_rss_mb'], first['peak_rss_mb'])})"
    )


def fmt_onnx(f: Figures) -> str:
    r = f["onnx"][-1]
    return (
        f"labels {r['label_agreement_percent']:g} % equal, scores within {r['max_score_difference']:.1e}; "
        f"onnxruntime {r['onnx_over_torch']:.2f}x PyTorch ({r['onnxruntime_sentences_per_s']} vs "
        f"{r['torch_sentences_per_s']} sentences/s, {r['threads']} thread)"
    )


def fmt_robustness(f: Figures) -> str:
    r = f["robustness"][-1]
    parts = []
    readers = r.get("readers")
    if readers:
        parts.append(
            f"{readers['as_documented']}/{readers['inputs_tried']} inputs as documented, "
            f"{readers['crashes']} crashes, {readers['sentences_lost']} sentences lost"
        )
    files, kills, served = r["model_files"], r["kills"], r["server"]
    parts.append(f"{files['refused_clearly']}/{files['tried']} damaged files refused")
    parts.append(f"{kills['passed']}/{kills['trials']} kill-and-resume")
    parts.append(f"hostile HTTP: {served['5xx']} 5xx, {served.get('not_as_documented', 0)} not as documented")
    trust = r.get("trust") or []
    parts.append(f"trust boundary {sum(bool(t.get('ok')) for t in trust)}/{len(trust)} rows as documented")
    return "; ".join(parts)


def fmt_attack(f: Figures) -> str:
    r = f["attack"][-1]
    return (
        f"victim {r['victim_ok']}/{r['victim_requests']} answered, slowest {r['victim_max_s']} s "
        f"(limit 2 s); {r['5xx']} 5xx; RSS {r['rss_before_mb']:.0f} -> peak {r['rss_peak_mb']:.0f} MB; "
        f"/health failures {r['health_failures']}"
    )


def fmt_multitask(f: Figures) -> str:
    r = f["multitask"][-1]
    rate = r["predict_sentences_per_s"]
    text = f"predict {rate['multitask']:.1f} vs two singles {rate['singles']:.1f}"
    flair = get(r, "flair", "predict_sentences_per_s")
    if flair:
        text += f" vs Flair {flair:.1f} sentences/s ({ratio(rate['multitask'], flair)} Flair)"
    return text + (
        f"; files {r['file_mb']['multitask']:.0f} vs {r['file_mb']['singles']:.0f} MB; "
        f"{r['parameters']['multitask'] / 1e6:.1f}M vs {r['parameters']['singles'] / 1e6:.1f}M parameters; "
        f"XPOS {r['xpos']['multitask']:.3f} vs {r['xpos']['singles']:.3f}, chunk F1 "
        f"{r['chunk_f1']['multitask']:.3f} vs {r['chunk_f1']['singles']:.3f}"
    )


def leaves(d: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(d, dict):
        return [leaf for k, v in d.items() for leaf in leaves(v, (*path, str(k)))]
    return [(path, d)]


def fmt_reduced(f: Figures) -> str:
    """Per task: accuracy of each mode and its difference to fp32, the speed ratio to fp32 of each round at
    each thread count, and how many sentences changed between batch 32 and alone."""
    parts = []
    for task in f["reduced"][-1]["tasks"].values():
        scores, deltas = task["score"], task["delta_points"]
        accuracy = ", ".join(
            f"{mode} {100 * scores[mode]:.2f}" + ("" if mode == "fp32" else f" ({deltas[mode]:+.2f})")
            for mode in scores
        )
        fp32 = {
            (r["round"], r["threads"]): r["sentences_per_s"] for r in task["rounds"] if r["mode"] == "fp32"
        }
        speeds = []
        for threads in sorted({r["threads"] for r in task["rounds"]}, reverse=True):
            for mode in (m for m in scores if m != "fp32"):
                ratios = [
                    r["sentences_per_s"] / fp32[(r["round"], threads)]
                    for r in task["rounds"]
                    if r["mode"] == mode and r["threads"] == threads
                ]
                if ratios:
                    low, high = min(ratios), max(ratios)
                    speeds.append(f"{mode} {low:.2f}-{high:.2f}x at {threads} thread{'s' * (threads > 1)}")
        changed = ", ".join(
            f"{mode} {n}" for mode, n in task.get("sentences_changed_batch_vs_alone", {}).items()
        )
        cell = f"{task['metric']}: {accuracy}; speed vs fp32 (per round): {', '.join(speeds)}"
        if changed:
            cell += f"; sentences changed at batch 32 vs alone: {changed} of {task['sentences']}"
        parts.append(cell)
    return "; ".join(parts)


# -- the registry --------------------------------------------------------------------------------------

DATA, ENC = "--data={data}", "--encoder={encoder}"
ROWS: list[Row] = [
    Row("read_ewt", "read UD EWT train (12,544 sentences)", "`bench/read_ewt.py`",
        [System("read", ["bench/read_ewt.py"], quick=["bench/read_ewt.py", "--runs", "1", "--target", "60"])],
        fmt_read_ewt, 0.5),
    Row("predict", "predict EWT test (2,077 sentences), batch 32, TokenClassifier over the default encoder "
        "(untrained head: speed only), each system in its own process, interleaved rounds",
        "`bench/predict_speed.py`",
        [System("predict", ["bench/predict_speed.py", "--threads", "2", "1", "--rounds", "{rounds}",
                            "--modes", "{modes}"],
                quick=["bench/predict_speed.py", "--threads", "1", "--rounds", "1", "--limit", "64",
                       "--modes", "fp32,int8", "--systems", "polytag,hf"])],
        fmt_predict, 7, rounds=2, inner_rounds=True),
    Row("pos", "POS (EWT, first 2,000 train sentences, 1 epoch, batch 16, lr 5e-5, 2 threads): "
        "polytag vs Flair 0.15.1", "`bench/polytag_runner.py pos`, `bench/flair_runner.py pos`",
        [System("polytag", ["bench/polytag_runner.py", "pos", DATA, ENC, "--train-limit", "2000"], threads=2),
         System("flair", ["bench/flair_runner.py", "pos", DATA, ENC, "--train-limit", "2000"], flair=True,
                threads=2)],
        fmt_pos, 5),
    Row("bare_encoder", "polytag's embeddings vs the bare encoder (EWT, 2 threads)",
        "`bench/bare_encoder.py`",
        [System("bare", ["bench/bare_encoder.py", "--json", "--rounds", "3"], threads=2)], fmt_bare, 3),
    Row("ner", "NER (CoNLL-03, first 1,500 train sentences, 1 epoch, 1 thread, seed 1)",
        "`bench/polytag_runner.py ner`, `bench/flair_runner.py ner`",
        [System("polytag", ["bench/polytag_runner.py", "ner", DATA, ENC, "--train-limit", "1500"], threads=1),
         System("flair", ["bench/flair_runner.py", "ner", DATA, ENC, "--train-limit", "1500"], flair=True,
                threads=1)],
        fmt_ner, 6),
    Row("agnews", "AG News (first 1,000 of the 4,500 train documents, 1 epoch, 1 thread)",
        "`bench/polytag_runner.py agnews`",
        [System("polytag", ["bench/polytag_runner.py", "agnews", DATA, ENC, "--train-limit", "1000"],
                threads=1)],
        fmt_agnews, 7),
    Row("trainer_epoch",
        "token-budget vs fixed batches (EWT, first 3,000 train sentences, 1 epoch, 1 thread)",
        "`bench/trainer_epoch.py`",
        [System("fixed", ["bench/trainer_epoch.py", "--one", "fixed", "--train-limit", "3000"], threads=1),
         System("budget", ["bench/trainer_epoch.py", "--one", "budget", "--train-limit", "3000"], threads=1)],
        fmt_trainer, 5),
    Row("aida_nel", "AIDA-B entity linking (default encoder, frozen, candidates.tsv, 2 epochs, best on dev)",
        "`bench/aida_nel.py --seeds 1,2,3 --epochs 2`",
        [System("aida", ["bench/aida_nel.py", "--seeds", "1,2,3", "--parallel", "2", "--epochs", "2",
                         "--out", "{out}"], threads=1)], fmt_aida, 30),
    Row("serve_load", "`polytag serve` under load (untrained MiniLM model)", "`bench/serve_load.py`",
        [System("serve", ["bench/serve_load.py", "--json", "{json}"])], fmt_serve_load, 4),
    Row("stream_memory", "streaming a 1,000,000-sentence column file (`in_memory=False`), tiny encoder",
        "`bench/stream_memory.py`",
        [System("stream", ["bench/stream_memory.py"], threads=1, all_lines=True,
                quick=["bench/stream_memory.py", "--sizes", "200", "400", "--steps", "3"])],
        fmt_stream, 6),
    Row("onnx", "ONNX export, CoNLL-03 test (model fine-tuned 300 steps)", "`bench/onnx_vs_torch.py`",
        [System("onnx", ["bench/onnx_vs_torch.py", "--threads", "1"], threads=1)], fmt_onnx, 5),
    Row("robustness", "robustness: hostile inputs, damaged model files, SIGKILL + resume, hostile HTTP, "
        "trust boundary", "`bench/robustness.py`",
        [System("robustness", ["bench/robustness.py", "--json", "{json}"], threads=1)], fmt_robustness, 6),
    Row("serve_attack", "attacks on `polytag serve` (100,000-subtoken words, 1 MB bodies, slow sockets, "
        "cross-site requests, all at once)", "`bench/serve_attack.py`",
        [System("attack", ["bench/serve_attack.py", "--json", "{json}"],
                quick=["bench/serve_attack.py", "--seconds", "3", "--json", "{json}"])],
        fmt_attack, 1.5),
    Row("multitask", "multitask vs two single-task models vs Flair's two-head model (10 % data, 1 thread)",
        "`bench/multitask_vs_single.py`",
        [System("multitask", ["bench/multitask_vs_single.py"], threads=1)], fmt_multitask, 7),
    Row("reduced", "reduced inference: fp32 vs int8 vs bf16 accuracy and speed (models trained 1 epoch "
        "on the first 3,000 train sentences; test sets, batch 32)",
        "`bench/reduced_inference.py`",
        [System("reduced", ["bench/reduced_inference.py", "--train-limit", "3000"])], fmt_reduced, 10),
]  # fmt: skip
BY_NAME = {row.name: row for row in ROWS}
