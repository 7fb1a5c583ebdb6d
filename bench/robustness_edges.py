"""Robustness rows for issue 14, points 13 (entity links) and 14b (archive extraction bounds).

    python bench/robustness_edges.py

``run(workdir)`` returns one row per point: ``{"point", "check", "expected", "observed", "ok"}``;
``bench/robustness.py`` can fold them into its table. Standalone, the rows are printed and the exit code
is 1 when any row is not ok. Takes a few seconds (most of it compressing the zip bomb).
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOSTILE_IDS = (
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
    "https://evil.example/phish",
    '"><script>alert(1)</script>',
    "x' onmouseover='alert(1)",
)
HOSTILE_TEMPLATES = (
    "{}",
    "javascript:{}",
    "data:text/html,{}",
    "//evil.example/{}",
    "https://{}.example.org/",
    'https://example.org/{}" onclick="alert(1)',
)


def _links_row() -> dict:
    """Point 13: every hostile id under the default template and under hostile templates."""
    from polytag.cli.render import render_sentence
    from polytag.cli.results import DEFAULT_LINK_TEMPLATE, Layer, sentence_result
    from polytag.data import Sentence

    layer = Layer("Task_0", "SpanClassifier", "nel", "link")
    bad: list[str] = []
    tried = 0
    for template in (DEFAULT_LINK_TEMPLATE, *HOSTILE_TEMPLATES):
        for entity in HOSTILE_IDS:
            tried += 1
            sentence = Sentence("Obama spoke .")
            sentence[0:1].add_label("nel", entity, 0.9)
            result = sentence_result(sentence, [layer], template)
            url = result["spans"][0].get("url")
            html = render_sentence(result)
            hrefs = html.count("href=")
            if template == DEFAULT_LINK_TEMPLATE:
                fine = hrefs == 1 and url is not None and url.startswith("https://en.wikipedia.org/wiki/")
            else:
                fine = hrefs == 0 and url is None
            if not fine or "<script>" in html:
                bad.append(f"{template!r} + {entity!r} -> {url!r}")
    return {
        "point": 13,
        "check": f"{len(HOSTILE_IDS)} hostile entity ids (javascript:, data:, //host, URLs, quotes) under "
        f"the default template and {len(HOSTILE_TEMPLATES)} hostile --link-template values, through "
        "sentence_result and the HTML renderer",
        "expected": "links only to http(s) URLs on the template's host with the id quoted; otherwise no link "
        "and the id as escaped text; no <script> in the page",
        "observed": f"{tried - len(bad)}/{tried} as expected" + (f"; wrong: {bad[:3]}" if bad else ""),
        "ok": not bad,
    }


def _bomb(path: Path, size: int) -> Path:
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zelda/bomb.bin", "w", force_zip64=True) as out:
            for _ in range(size >> 20):
                out.write(block)
    return path


def _refused(archive: Path, target: Path) -> str:
    from polytag.datasets.archives import ArchiveError, extract_zip

    try:
        extract_zip(archive, target)
    except ArchiveError as exc:
        left = [p for p in target.rglob("*") if p.is_file()] if target.exists() else []
        return f"refused ({str(exc).split(': ', 1)[-1]}); files left: {len(left)}"
    return "UNPACKED"


def _archive_row(workdir: Path) -> dict:
    """Point 14b: a zip bomb, a zip with too many members and a zip-slip member, with default bounds."""
    from polytag.datasets.archives import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_TOTAL_BYTES

    workdir.mkdir(parents=True, exist_ok=True)
    bomb = _bomb(workdir / "bomb.zip", MAX_MEMBER_BYTES + (64 << 20))
    many = workdir / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for number in range(MAX_MEMBERS + 1):
            zf.writestr(f"m/{number}", b"")
    slip = workdir / "slip.zip"
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../escaped.txt", "x")
    outcomes = {
        f"bomb ({bomb.stat().st_size >> 10} KB -> {(MAX_MEMBER_BYTES >> 20) + 64} MB)": _refused(
            bomb, workdir / "out-bomb"
        ),
        f"{MAX_MEMBERS + 1} members": _refused(many, workdir / "out-many"),
        "zip slip": _refused(slip, workdir / "out-slip"),
    }
    escaped = (workdir / "escaped.txt").exists()
    ok = (
        all(o.startswith("refused") and o.endswith("files left: 0") for o in outcomes.values())
        and not escaped
    )
    return {
        "point": 14,
        "check": "14b: extract_zip on a zip bomb, a zip with too many members and a zip-slip member",
        "expected": "ArchiveError before or while writing, nothing left behind; bounds: "
        f"{MAX_TOTAL_BYTES >> 20} MiB in all, {MAX_MEMBER_BYTES >> 20} MiB a member, {MAX_MEMBERS} members "
        "(callers may raise them)",
        "observed": "; ".join(f"{name}: {outcome}" for name, outcome in outcomes.items()),
        "ok": ok,
    }


def run(workdir: Path) -> list[dict]:
    """The rows of points 13 and 14b; scratch files go under ``workdir``."""
    return [_links_row(), _archive_row(Path(workdir) / "archives")]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="polytag-robustness-edges-") as tmp:
        rows = run(Path(tmp))
    for row in rows:
        print(f"point {row['point']}: {'ok' if row['ok'] else 'NOT OK'}")
        for key in ("check", "expected", "observed"):
            print(f"  {key}: {row[key]}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
