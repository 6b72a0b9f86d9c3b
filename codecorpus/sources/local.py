"""Ingest local repositories: folders, git repositories (HEAD, read through git itself) and
.tar/.tar.gz/.tgz/.zip archives, into `repos` and `files` rows plus ledger rows for what cannot be read.

Listing repositories happens on the driver (names and stat signatures only); reading them happens in
Spark tasks, one repository at a time, on Arrow batches.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import subprocess
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from codecorpus.annotate.license import is_license_file
from codecorpus.stage import Unit
from codecorpus.sources.decode import decode

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")

def file_id(repo_name: str, path: str) -> str:
    return hashlib.sha1(f"{repo_name}\0{path}".encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Listing (driver)

def _unit_kind(path: Path) -> str | None:
    name = path.name.lower()
    if path.is_dir():
        return "git" if (path / ".git").exists() else "directory"
    if path.is_file():
        if name.endswith(".zip"):
            return "zip"
        if name.endswith(ARCHIVE_SUFFIXES):
            return "tar"
    return None


def _repo_name(rel: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if rel.lower().endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def _signature(path: Path, kind: str) -> str:
    """Cheap change detector: git HEAD for git repos, sizes and mtimes otherwise."""
    if kind == "git":
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
        return head.stdout.strip() or "no-head"
    if path.is_file():
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    digest = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            digest.update(f"{os.path.join(dirpath, name)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def list_repositories(roots: list[str], repo_depth: int) -> list[Unit]:
    """Every repository under ``roots``: the entries ``repo_depth`` levels down, sorted by name."""
    units = []
    for root in roots:
        base = Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"source folder {root} does not exist (sources.local in the config)")
        for entry in sorted(base.glob("/".join(["*"] * repo_depth))):
            kind = _unit_kind(entry)
            if kind is None or entry.name.startswith("."):
                continue
            rel = entry.relative_to(base).as_posix()
            units.append(Unit(_repo_name(rel), str(entry), kind, _signature(entry, kind)))
    names = [u.unit_id for u in units]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"repository names appear twice across sources.local: {duplicates[:5]}")
    return units


# ---------------------------------------------------------------------------------------------
# Reading (executors)

@dataclass
class Entry:
    """One path of a repository and how to get its bytes (or why it cannot be read)."""
    path: str
    size: int
    read: object = None          # callable returning bytes
    problem: tuple[str, str] | None = None   # (rule, value) when the entry is rejected without reading


def _safe_relpath(name: str) -> str | None:
    """Normalised archive member path, or None when it escapes the repository (path traversal)."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    norm = posixpath.normpath(name.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        return None
    return norm.lstrip("./") if norm.startswith("./") else norm


def _strip_top(paths: list[str]) -> str:
    """Archives usually wrap everything in one top folder (name-version/); it is not part of paths."""
    tops = {p.split("/", 1)[0] for p in paths}
    if len(tops) == 1 and all("/" in p for p in paths):
        return tops.pop() + "/"
    return ""


def _directory_entries(root: str) -> Iterator[Entry]:
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (dirpath == root and d == ".git"))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if os.path.islink(full):
                target = os.path.realpath(full)
                outside = os.path.commonpath([real_root, target]) != real_root
                yield Entry(rel, 0, problem=("symlink_outside_repo" if outside else "symlink", os.readlink(full)))
                continue
            size = os.path.getsize(full)
            yield Entry(rel, size, read=lambda full=full: Path(full).read_bytes())


def _git_entries(root: str) -> Iterator[Entry]:
    listing = subprocess.run(["git", "-C", root, "ls-tree", "-r", "-z", "-l", "--full-tree", "HEAD"],
                             capture_output=True, check=True).stdout
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        mode, kind, sha, size = meta.split()
        rel = path.decode("utf-8", "surrogateescape")
        if mode == b"120000":
            yield Entry(rel, 0, problem=("symlink", sha.decode()))
        elif kind == b"commit":
            yield Entry(rel, 0, problem=("submodule", sha.decode()))
        else:
            yield Entry(rel, int(size), read=lambda sha=sha: subprocess.run(
                ["git", "-C", root, "cat-file", "blob", sha.decode()], capture_output=True, check=True).stdout)


def _tar_entries(location: str) -> Iterator[Entry]:
    with tarfile.open(location, "r:*") as archive:
        members = archive.getmembers()   # reads the whole index: a truncated archive fails here
        top = _strip_top([m.name for m in members if not m.isdir()])
        for member in members:
            if member.isdir():
                continue
            rel = _safe_relpath(member.name)
            if rel is None:
                yield Entry(member.name, member.size, problem=("path_traversal", member.name))
                continue
            rel = rel[len(top):] if top and rel.startswith(top) else rel
            if member.issym() or member.islnk():
                yield Entry(rel, 0, problem=("symlink", member.linkname))
            elif not member.isfile():
                yield Entry(rel, 0, problem=("special_file", "device or fifo"))
            else:
                yield Entry(rel, member.size, read=lambda m=member: archive.extractfile(m).read())


def _zip_entries(location: str) -> Iterator[Entry]:
    with zipfile.ZipFile(location) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        top = _strip_top([i.filename for i in infos])
        for info in infos:
            rel = _safe_relpath(info.filename)
            if rel is None:
                yield Entry(info.filename, info.file_size, problem=("path_traversal", info.filename))
                continue
            rel = rel[len(top):] if top and rel.startswith(top) else rel
            yield Entry(rel, info.file_size, read=lambda i=info: archive.read(i))


ENTRY_READERS = {"directory": _directory_entries, "git": _git_entries, "tar": _tar_entries, "zip": _zip_entries}


def _git_head(location: str) -> tuple[str | None, int | None]:
    out = subprocess.run(["git", "-C", location, "log", "-1", "--format=%H %ct"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return None, None
    sha, seconds = out.stdout.split()
    return sha, int(seconds)


def read_repository(unit: Unit, max_file_bytes: int) -> Iterator[dict]:
    """Records for one repository: one per file ('file' or 'reject'), then one 'repo' record.

    Never raises for bad input: a corrupt archive or unreadable entry becomes a reject record."""
    revision, revision_ts = _git_head(unit.location) if unit.kind == "git" else (None, None)
    license_files, seen, problem = [], 0, None
    try:
        for entry in ENTRY_READERS[unit.kind](unit.location):
            seen += 1
            if is_license_file(entry.path):
                license_files.append(entry.path)
            yield _file_record(unit, entry, max_file_bytes, revision, revision_ts)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, subprocess.CalledProcessError,
            ValueError) as exc:
        problem = ("corrupt_archive" if unit.kind in ("tar", "zip") else "unreadable_repository",
                   f"{type(exc).__name__}: {exc}"[:500])
    if problem:
        yield {"kind": "reject", "id": unit.unit_id, "id_kind": "repo", "rule": problem[0], "value": problem[1],
               "detail": f"{unit.unit_id}: read {seen} entries before the error; those are kept"}
    if seen or not problem:
        yield {"kind": "repo", "repo_name": unit.unit_id, "repo_url": unit.location, "source_kind": unit.kind,
               "revision_id": revision, "revision_ts": revision_ts, "license_files": sorted(license_files),
               "num_files": seen}


def _file_record(unit: Unit, entry: Entry, max_file_bytes: int, revision: str | None,
                 revision_ts: int | None) -> dict:
    fid = file_id(unit.unit_id, entry.path)
    detail = f"{unit.unit_id}/{entry.path}"

    def reject(rule: str, value: str) -> dict:
        return {"kind": "reject", "id": fid, "id_kind": "file", "rule": rule, "value": value, "detail": detail}

    if entry.problem:
        return reject(*entry.problem)
    if entry.size >= max_file_bytes:
        return reject("too_large", str(entry.size))
    try:
        raw = entry.read()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        return reject("unreadable_file", f"{type(exc).__name__}: {exc}"[:300])
    decoded = decode(raw)
    if decoded.rule:
        return reject(decoded.rule, decoded.value)
    base = posixpath.basename(entry.path)
    extension = base.rsplit(".", 1)[1] if "." in base.lstrip(".") else ""
    return {
        "kind": "file", "file_id": fid, "repo_name": unit.unit_id, "path": entry.path,
        "blob_id": hashlib.sha1(raw).hexdigest(),
        "content_id": hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest(),
        "revision_id": revision, "revision_ts": revision_ts, "src_encoding": decoded.encoding,
        "length_bytes": len(raw), "extension": extension, "content": decoded.text,
    }


RECORD_SCHEMA = pa.schema([
    ("kind", pa.string()), ("file_id", pa.string()), ("repo_name", pa.string()), ("path", pa.string()),
    ("blob_id", pa.string()), ("content_id", pa.string()), ("revision_id", pa.string()),
    ("revision_ts", pa.int64()), ("src_encoding", pa.string()), ("length_bytes", pa.int64()),
    ("extension", pa.string()), ("content", pa.string()),
    ("repo_url", pa.string()), ("source_kind", pa.string()), ("license_files", pa.list_(pa.string())),
    ("num_files", pa.int64()),
    ("id", pa.string()), ("id_kind", pa.string()), ("rule", pa.string()), ("value", pa.string()),
    ("detail", pa.string()),
])
RECORD_DDL = ("kind string, file_id string, repo_name string, path string, blob_id string, content_id string, "
              "revision_id string, revision_ts bigint, src_encoding string, length_bytes bigint, extension string, "
              "content string, repo_url string, source_kind string, license_files array<string>, num_files bigint, "
              "id string, id_kind string, rule string, value string, detail string")

BATCH_BYTES = 32 * 1024 * 1024


def read_units_batches(batches: Iterator[pa.RecordBatch], max_file_bytes: int) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: unit rows in, record batches out (flushed every ~32 MB of content)."""
    rows, size = [], 0
    for batch in batches:
        for unit in batch.to_pylist():
            for record in read_repository(Unit(**unit), max_file_bytes):
                rows.append(record)
                size += len(record.get("content") or "")
                if size >= BATCH_BYTES:
                    yield pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA)
                    rows, size = [], 0
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=RECORD_SCHEMA)
