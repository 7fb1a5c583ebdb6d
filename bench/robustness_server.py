"""Robustness rows for ``polytag serve`` (issue 14, points 2, 3, 4, 9 and 12), one dict per point.

    python bench/robustness_server.py

``run(workdir)`` builds a tiny untrained model, starts ``polytag serve`` in a subprocess under a
256-descriptor open-file limit and replays the attacks of ``bench/serve_attack.py`` for 8 seconds while a
victim client sends small requests; each row says what was tried, what must happen, what happened and
whether that is as documented (docs/robustness.md, "The server"). Takes about 30-60 seconds.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

RSS_BOUND_MB = 400.0
SECONDS = 8.0


def _counts(figures: dict[str, Any], attack: str) -> dict[str, int]:
    return {k: v for k, v in figures["by_attack"].get(attack, {}).items()}


def _no(counts: dict[str, int], *statuses: str) -> bool:
    return not any(counts.get(s) for s in statuses) and not any(int(k) >= 500 for k in counts)


def rows_from(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The five rows, from ``serve_attack.attack``'s figures."""
    from serve_attack import VICTIM_LIMIT_S  # type: ignore[import-not-found]

    word = _counts(figures, "2: 100,000-subtoken word")
    at_limit = _counts(figures, "2: requests at the subtoken limit")
    victim_ok = figures["victim_requests"] > 0 and figures["victim_ok"] == figures["victim_requests"]
    fast = victim_ok and figures["victim_max_s"] is not None and figures["victim_max_s"] < VICTIM_LIMIT_S
    one = _counts(figures, "3: 1 MB one-sentence requests")
    many = _counts(figures, "3: 1 MB requests of 1,000 sentences")
    growth = figures["rss_peak_mb"] - figures["rss_before_mb"]
    health = figures["health_after"]
    cross = figures["cross_site"]
    flood = _counts(figures, "12: cross-site request")
    return [
        {
            "point": 2,
            "check": "one-word texts of 100,000 CJK characters and requests at the 8,192-subtoken limit, "
            "while a victim sends a small request every 0.25 s",
            "expected": f"the word is refused (413, or 429 when bytes are held) before prediction; "
            f"the victim gets 200 within {VICTIM_LIMIT_S:g} s; no 5xx",
            "observed": f"word {word}, at the limit {at_limit}; victim {figures['victim_ok']}/"
            f"{figures['victim_requests']} 200, slowest {figures['victim_max_s']} s",
            "ok": _no(word, "200") and _no(at_limit) and fast,
        },
        {
            "point": 3,
            "check": "24 clients sending ~1 MB bodies (one sentence; 1,000 sentences) over and over",
            "expected": f"413 (sentence over 100,000 characters) or 429 (16 MB of bodies held); server RSS "
            f"grows less than {RSS_BOUND_MB:g} MB; no 5xx",
            "observed": f"one sentence {one}, 1,000 sentences {many}; RSS {figures['rss_before_mb']} -> "
            f"peak {figures['rss_peak_mb']} MB; pending bytes after {health.get('pending_bytes')}",
            "ok": _no(one, "200")
            and _no(many)
            and growth < RSS_BOUND_MB
            and health.get("pending_bytes") == 0,
        },
        {
            "point": 4,
            "check": "300 idle, stalled-header and trickling sockets, reopened as they close, under a "
            "256-descriptor limit",
            "expected": "/health answers throughout; slow sockets closed within the 10 s header timeout or "
            "to make room; 'Too many open files' at most 5 times a minute (log filter); log under 100 kB",
            "observed": f"/health failures {figures['health_failures']}; closed slow "
            f"{health.get('closed_slow_connections')}, closed for room {health.get('closed_idle_for_room')} "
            f"(cap {health.get('max_connections')}); 'Too many open files' {figures['too_many_open_files']}; "
            f"log {figures['log_bytes']} bytes",
            "ok": figures["health_failures"] == 0
            and figures["too_many_open_files"] <= 5
            and figures["log_bytes"] < 100_000
            and (health.get("closed_slow_connections", 0) + health.get("closed_idle_for_room", 0)) > 0,
        },
        {
            "point": 9,
            "check": "GET /openapi.json and GET /docs",
            "expected": "200, and openapi.json is a schema listing /predict",
            "observed": f"openapi.json valid: {figures['openapi_ok']}, /docs {figures['docs_status']}",
            "ok": figures["openapi_ok"] and figures["docs_status"] == 200,
        },
        {
            "point": 12,
            "check": "POST /predict as a web page would: Host evil.example, Origin http://evil.example, "
            "Content-Type text/plain (alone and together, repeatedly)",
            "expected": "400 for the Host, 403 for the Origin, 415 for the content type; never 200",
            "observed": f"alone {cross}; together {flood}",
            "ok": cross
            == {
                "Host: evil.example": 400,
                "Origin: http://evil.example": 403,
                "Content-Type: text/plain": 415,
            }
            and _no(flood, "200"),
        },
    ]


def run(workdir: Path) -> list[dict[str, Any]]:
    """Attack a tiny model's server for a few seconds; one row per issue-14 point this server fixes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from serve_attack import attack, tiny_model  # type: ignore[import-not-found]

    workdir.mkdir(parents=True, exist_ok=True)
    figures = attack(tiny_model(workdir), workdir, seconds=SECONDS, nofile=256, sockets=300)
    return rows_from(figures)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(Path(tmp))
    for row in rows:
        print(f"point {row['point']:>2}  {'ok' if row['ok'] else 'NO'}  {row['check']}")
        print(f"          expected: {row['expected']}")
        print(f"          observed: {row['observed']}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
