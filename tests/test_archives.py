"""Archive extraction bounds: member count, per-member and total size (real bytes, not header claims)."""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

import pytest

from polytag.datasets import archives
from polytag.datasets.archives import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    ArchiveError,
    ArchiveLimits,
    extract_zip,
    gunzip,
)


def _bomb(path: Path, members: int, size: int) -> Path:
    """A zip of ``members`` files of ``size`` zero bytes each (compresses about 1000:1)."""
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for number in range(members):
            with zf.open(f"bomb/{number}.bin", "w", force_zip64=True) as out:
                left = size
                while left:
                    out.write(block[: min(left, len(block))])
                    left -= min(left, len(block))
    return path


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_defaults_are_stated_bounds() -> None:
    limits = ArchiveLimits()
    assert (limits.max_total_bytes, limits.max_member_bytes, limits.max_members) == (
        MAX_TOTAL_BYTES,
        MAX_MEMBER_BYTES,
        MAX_MEMBERS,
    )
    assert MAX_MEMBER_BYTES <= MAX_TOTAL_BYTES


def test_a_zip_bomb_member_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    archive = _bomb(tmp_path / "bomb.zip", members=1, size=8 << 20)
    assert archive.stat().st_size < 64 << 10  # kilobytes that claim megabytes
    with pytest.raises(ArchiveError, match=r"bomb/0\.bin.*per-member"):
        extract_zip(archive, tmp_path / "out", ArchiveLimits(max_member_bytes=1 << 20))
    assert _files(tmp_path / "out") == []


def test_total_limit_counts_all_members(tmp_path: Path) -> None:
    archive = _bomb(tmp_path / "bomb.zip", members=4, size=1 << 20)
    with pytest.raises(ArchiveError, match="total"):
        extract_zip(archive, tmp_path / "out", ArchiveLimits(max_total_bytes=3 << 20))
    assert _files(tmp_path / "out") == []  # members written before the refusal are removed again
    extract_zip(archive, tmp_path / "ok", ArchiveLimits(max_total_bytes=4 << 20))
    assert [p.stat().st_size for p in _files(tmp_path / "ok")] == [1 << 20] * 4


def test_member_count_limit(tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for number in range(5):
            zf.writestr(f"f{number}.txt", "x")
    with pytest.raises(ArchiveError, match="5 members, more than the limit of 4"):
        extract_zip(archive, tmp_path / "out", ArchiveLimits(max_members=4))
    assert _files(tmp_path / "out") == []


def _lie_about_sizes(archive: Path, claimed: int) -> None:
    """Rewrite every header's uncompressed size to ``claimed`` (the data itself stays as it is)."""
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(signature)
        while start != -1:
            data[start + offset : start + offset + 4] = struct.pack("<I", claimed)
            start = data.find(signature, start + 4)
    archive.write_bytes(bytes(data))


def test_a_header_that_understates_the_size_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.bin", b"\0" * (2 << 20))
    _lie_about_sizes(archive, 10)  # the headers now claim 10 bytes
    assert zipfile.ZipFile(archive).infolist()[0].file_size == 10
    with pytest.raises(ArchiveError, match="liar.zip"):
        extract_zip(archive, tmp_path / "out", ArchiveLimits(max_member_bytes=1 << 20))
    assert _files(tmp_path / "out") == []


def test_bytes_written_are_counted_even_when_the_headers_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the header check switched off, counting while writing alone must stop both bounds."""
    monkeypatch.setattr(archives, "check_members", lambda *args: None)
    archive = _bomb(tmp_path / "bomb.zip", members=3, size=1 << 20)
    with pytest.raises(ArchiveError, match="per-member limit"):
        extract_zip(archive, tmp_path / "a", ArchiveLimits(max_member_bytes=(1 << 20) - 1))
    with pytest.raises(ArchiveError, match=r"bomb/2\.bin.*left of the total limit"):
        extract_zip(archive, tmp_path / "b", ArchiveLimits(max_total_bytes=(3 << 20) - 1))
    assert _files(tmp_path / "a") == [] and _files(tmp_path / "b") == []


def test_zip_slip_is_still_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("/abs.txt", "bad")
    with pytest.raises(ArchiveError, match="outside"):
        extract_zip(archive, tmp_path / "target")
    assert _files(tmp_path / "target") == []


def test_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    archive = tmp_path / "not.zip"
    archive.write_text("hello", encoding="utf-8")
    with pytest.raises(ArchiveError, match="not a readable zip"):
        extract_zip(archive, tmp_path / "out")


def test_gunzip_is_bounded(tmp_path: Path) -> None:
    source = tmp_path / "big.gz"
    with gzip.open(source, "wb") as out:
        out.write(b"\0" * (2 << 20))
    with pytest.raises(ArchiveError, match="big.gz"):
        gunzip(source, tmp_path / "big", max_bytes=1 << 20)
    assert not (tmp_path / "big").exists() and _files(tmp_path) == [source]
    gunzip(source, tmp_path / "big")
    assert (tmp_path / "big").stat().st_size == 2 << 20
