"""bench/report.py: the README table rebuilt from stored results (no benchmark is run, nothing is timed)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "bench_report"
sys.path.insert(0, str(REPO / "bench"))

import report  # noqa: E402
import report_rows  # noqa: E402


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_table_from_stored_results_marks_other_commits_and_drops_unknown_rows() -> None:
    table, dropped = report.render_table(report.load_results(FIXTURES))
    rows = table_lines(table)
    # registry order, only rows with results; the stored row that no registry row makes is left out
    assert [line.split(" | ")[1] for line in rows] == [
        "`bench/read_ewt.py`",
        "`bench/predict_speed.py`",
        "`bench/onnx_vs_torch.py`",
        "`bench/serve_attack.py`",
    ]
    assert dropped == ["retired_row"]
    assert "no program makes" not in table
    assert "POS" not in table  # a registry row without stored figures is not shown
    onnx = next(line for line in rows if "onnx" in line)
    assert onnx.endswith("*(2222222, 2026-11-30)* |")  # measured at another commit than most rows
    assert "1.11x PyTorch (272.1 vs 244.7 sentences/s, 1 thread)" in onnx
    assert all("1111111" not in line for line in rows)  # the majority commit is said once, above the table
    assert "at commit 1111111 (2026-12-01)" in table


def test_cells_are_formatted_from_the_stored_figures() -> None:
    results = report.load_results(FIXTURES)
    table, _ = report.render_table(results)
    assert "| 0.56 s, best of 3 (first run 0.71 s; target < 3 s) |" in table
    predict = next(line for line in table_lines(table) if "predict_speed" in line)
    assert "2 threads: polytag fp32 365.0 (358.0-372.0) (1.63x Flair)" in predict
    assert "Flair 0.15.1 223.5 (221.0-226.0) (0.61x polytag fp32)" in predict
    assert "polytag int8 399.0 (396.0-402.0) (1.09x polytag fp32, 1.78x Flair)" in predict
    assert "(polytag-bf16 skipped)" in predict


def test_a_cell_the_formatter_cannot_make_falls_back_to_the_stored_cell(tmp_path: Path) -> None:
    record = json.loads((FIXTURES / "serve_attack.json").read_text())
    record["figures"] = {"attack": [{"something": "else"}]}
    (tmp_path / "serve_attack.json").write_text(json.dumps(record))
    table, _ = report.render_table(report.load_results(tmp_path))
    assert "| victim 41/41 answered |" in table


def test_readme_markers_are_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nintro\n\n{report.START}\n| old | table |\n{report.END}\n\n## Next\nkept\n")
    results = tmp_path / "results"
    shutil.copytree(FIXTURES, results)
    dropped = report.write_readme(results, readme)
    text = readme.read_text()
    assert dropped == ["retired_row"]
    assert "| old | table |" not in text
    assert text.startswith("# x\n\nintro\n\n" + report.START + "\n")
    assert text.endswith(report.END + "\n\n## Next\nkept\n")
    assert "`bench/read_ewt.py`" in text
    with pytest.raises(ValueError, match="markers"):
        report.replace_table("no markers here", "| t |")


def test_no_stored_results_leave_a_note_instead_of_a_table(tmp_path: Path) -> None:
    table, dropped = report.render_table({})
    assert "no stored benchmark results" in table and dropped == []


def test_the_readme_has_the_markers() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.count(report.START) == 1 and text.count(report.END) == 1
    assert text.index(report.START) < text.index(report.END)


def test_serve_load_formatter_reads_per_client_figures() -> None:
    figures = {
        "serve": [
            {"summary": {  # the shape bench/serve_load.py --json writes
                "clients": {
                    "16": {"offline_sentences_per_second": 200.0, "server_requests_per_second": 100.0,
                           "ratio": 0.5, "p50_ms": 150, "p99_ms": 400, "sentences_per_call": 6.1,
                           "errors": 0},
                    "64": {"server_requests_per_second": 120.0, "errors": 2},
                }
            }}
        ]
    }  # fmt: skip
    cell = report_rows.fmt_serve_load(figures)
    assert "16 clients: 100.0 req/s vs offline 200.0 sentences/s (0.50x), p50 150 / p99 400 ms" in cell
    assert "6.1 sentences per predict call (offline at that batch), 0 errors" in cell
    assert "64 clients: 120.0 req/s, 2 errors" in cell


def test_dry_run_prints_each_system_with_its_python_and_threads(capsys: pytest.CaptureFixture) -> None:
    assert report.main(["--dry-run", "--rows", "pos,predict", "--flair-python", "/opt/flair/python"]) == 0
    out = capsys.readouterr().out
    assert "OMP_NUM_THREADS=2 /opt/flair/python bench/flair_runner.py pos" in out
    assert "bench/polytag_runner.py pos" in out and "--train-limit 2000" in out
    assert "bench/predict_speed.py --threads 2 1 --rounds 2 --modes fp32,int8,bf16" in out


def test_unknown_rows_are_refused() -> None:
    with pytest.raises(SystemExit):
        report.main(["--dry-run", "--rows", "nope"])


def test_quick_lists_only_rows_with_tiny_settings(capsys: pytest.CaptureFixture) -> None:
    assert report.main(["--list", "--quick"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()][:-1]
    assert names == [row.name for row in report_rows.ROWS if all(s.quick for s in row.systems)]
    assert "read_ewt" in names and "pos" not in names
