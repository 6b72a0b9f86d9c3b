"""A pull request's base and head files: for each (base commit, head commit) pair of its events, the files
that differ, from one of three sources (``conversations.contents.source``).

A GH Archive pull-request payload names the commits (``pull_request.base/head.sha``) and repositories
(``.repo.full_name``), never a file list nor a blob id. Hence what each source needs:

- ``files``: the run's ``files`` table holding repositories ingested at those commits (``revision_id``)
  or mapped by ``conversations.pull_requests.snapshots``; changed files by a join on path and content.
- ``git``: clones (working or bare) under ``contents.git`` as ``<owner>/<repo>`` or ``<owner>/<repo>.git``.
  The payload is enough: ``git ls-tree`` lists both commits' files with their blob ids, paths whose ids
  differ are the changed files, and one ``git cat-file --batch`` per repository and slice of pairs reads
  their blobs, inside Spark tasks. A commit is looked up in the base repository's clone first (it holds
  fork heads when ``refs/pull/*`` were fetched), then in the head repository's.
- ``swh``: Software Heritage blobs through the S3 fetch of codecorpus.s3 (retries, gzip, SHA-1 check).
  The payload has no blob ids, so this needs an index of each commit's files: The Stack v2's layouts
  (flat or ``-ids``, ``sources.stack_v2`` style) with ``revision_id`` = the commit, e.g. built from the
  SWH graph (revision -> directory -> entries, as the-stack-v2's ``find_file_paths.py``). Only the
  blobs of changed paths (ids differ) are fetched.

Output per distinct pair: ``base_files_repo``/``head_files_repo`` (the snapshot each commit resolved to:
a files-table repo_name, or ``owner/repo@sha``; null when not found) and ``files`` (path, base_content,
head_content, language; one side null for an added or deleted file). Ledger rows: a commit not found
(id_kind ``commit``, id ``owner/repo@sha``: ``repo_missing``, ``commit_missing``) and a changed file
that cannot be read (id_kind ``commit_file``, id ``owner/repo@sha:path``: ``blob_missing``, ``binary``,
``undecodable``, ``too_large``, the S3 fetch's rules); that file is left out of its pair, the PR goes on.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from codecorpus import tables
from codecorpus.annotate.language import detect_language
from codecorpus.ledger import union_all
from codecorpus.s3.config import S3Config
from codecorpus.sources.decode import decode
from codecorpus.sources.stack_v2 import StackV2Config

PAIR_KEYS = ["base_repo", "base_sha", "head_repo", "head_sha"]
FILE_STRUCT = "struct<path:string,base_content:string,head_content:string,language:string>"
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")     # SHA-1, or SHA-256 object format
PAIRS_PER_READ = 64                  # pairs whose blobs one cat-file call per repository reads
READ_CHUNK_BYTES = 64 * 1024 * 1024  # blob bytes per cat-file call


class ContentsConfig(BaseModel):
    """Where the base and head files of pull requests come from."""
    model_config = ConfigDict(extra="forbid")
    source: Literal["files", "git", "swh"] = Field("files", description=(
        "files: the run's files table (conversations.pull_requests.snapshots, files.revision_id); "
        "git: clones under `git`; swh: Software Heritage blobs listed by the `swh` index"))
    git: list[str] = Field(default_factory=list, description=(
        "folders of <owner>/<repo> clones, working or bare (<repo>.git); a path every executor can read"))
    swh: StackV2Config | None = Field(None, description=(
        "an index of commit files (The Stack v2 layouts with revision_id = commit sha), bucket and key "
        "template; fetched with the `s3` settings"))
    max_file_bytes: int = Field(10 * 1024 * 1024, gt=0, description=(
        "changed files this large or larger are not read (too_large), as The Stack v2 skipped 10 MiB blobs"))

    @model_validator(mode="after")
    def _source_is_configured(self) -> "ContentsConfig":
        if self.source == "git" and not self.git:
            raise ValueError("conversations.contents.source is git but conversations.contents.git names no "
                             "folder of <owner>/<repo> clones")
        if self.source == "swh" and self.swh is None:
            raise ValueError("conversations.contents.source is swh but conversations.contents.swh has no index "
                             "(a Parquet index with revision_id, repo_name, path, blob_id)")
        return self


def changed_files(pairs: DataFrame, files: DataFrame, cfg: ContentsConfig, snapshots: dict[str, str],
                  s3: S3Config) -> tuple[DataFrame, DataFrame]:
    """(``pairs`` (PAIR_KEYS, distinct, no nulls) with base_files_repo, head_files_repo and files;
    ledger rows)."""
    if cfg.source == "git":
        return git_changed(pairs, cfg)
    if cfg.source == "swh":
        return swh_changed(pairs, cfg, s3)
    return table_changed(pairs, files, snapshots), pairs.sparkSession.createDataFrame([], tables.spark_schema("ledger"))


def _ledger(id_: str, id_kind: str, rule: str, value: str | None, detail: str | None = None) -> dict:
    return {"kind": "ledger", "id": id_, "id_kind": id_kind, "rule": rule, "value": value, "detail": detail}


# ------------------------------------------------------------------------------ files table

def table_changed(pairs: DataFrame, files: DataFrame, snapshots: dict[str, str]) -> DataFrame:
    """A commit is ``snapshots[owner/repo@sha]`` or the files repository whose revision_id is the sha;
    changed files per snapshot pair by a full join on path (computed once per distinct pair)."""
    spark = pairs.sparkSession
    mapped = spark.createDataFrame(sorted(snapshots.items()) or [("", "")], "key string, mapped string")
    by_revision = (files.where(F.col("revision_id").isNotNull())
                   .groupBy(F.col("revision_id").alias("sha")).agg(F.min("repo_name").alias("by_rev")))
    for side in ("base", "head"):
        key = F.concat_ws("@", f"{side}_repo", f"{side}_sha")
        pairs = (pairs.join(F.broadcast(mapped), key == F.col("key"), "left")
                 .join(by_revision, F.col(f"{side}_sha") == F.col("sha"), "left")
                 .withColumn(f"{side}_files_repo", F.coalesce("mapped", "by_rev"))
                 .drop("key", "mapped", "sha", "by_rev"))
    keys = ["base_files_repo", "head_files_repo"]
    snap = pairs.where(F.col("base_files_repo").isNotNull() & F.col("head_files_repo").isNotNull()).select(*keys).distinct()
    side = lambda s: snap.join(files.select(   # noqa: E731
        F.col("repo_name").alias(f"{s}_files_repo"), "path", F.col("content").alias(f"{s}_content"),
        F.col("language").alias(f"{s}_language")), f"{s}_files_repo")
    changed = (side("base").join(side("head"), keys + ["path"], "full_outer")
               .where(~F.col("base_content").eqNullSafe(F.col("head_content")))
               .groupBy(*keys).agg(F.collect_list(F.struct(
                   "path", "base_content", "head_content",
                   F.coalesce("base_language", "head_language").alias("language"))).alias("files")))
    return pairs.join(changed, keys, "left")


# ------------------------------------------------------------------------------ git clones

def is_clone(path: Path) -> bool:
    return path.is_dir() and ((path / ".git").exists() or ((path / "objects").is_dir() and (path / "HEAD").is_file()))


def list_clones(roots: list[str]) -> list[tuple[str, str]]:
    """(owner/repo, folder) of every clone under ``roots`` (driver side: names and paths only)."""
    found: dict[str, str] = {}
    for root in roots:
        base = Path(root)
        if not base.is_dir():
            raise FileNotFoundError(f"git folder {root} does not exist (conversations.contents.git)")
        for entry in sorted(base.glob("*/*")):
            if is_clone(entry):
                found.setdefault(entry.relative_to(base).as_posix().removesuffix(".git"), str(entry.resolve()))
    return sorted(found.items())


class Clone:
    """One repository's objects, read through git itself."""

    def __init__(self, folder: str):
        self.folder = folder
        self.trees: dict[str, dict[str, tuple[str, int]] | None] = {}

    def tree(self, sha: str) -> dict[str, tuple[str, int]] | None:
        """path -> (blob id, size) of the regular files of commit ``sha``; None when it is not here."""
        if sha not in self.trees:
            run = subprocess.run(["git", "-C", self.folder, "ls-tree", "-r", "-z", "-l", "--full-tree",
                                  f"{sha}^{{commit}}"], capture_output=True)
            listing = None
            if run.returncode == 0:
                listing = {}
                for record in run.stdout.split(b"\0"):
                    if not record:
                        continue
                    meta, path = record.split(b"\t", 1)
                    mode, kind, blob, size = meta.split()
                    if kind == b"blob" and mode != b"120000":     # not submodules, not symlinks
                        # size "BAD": the clone lacks the object (cat-file says so later)
                        listing[path.decode("utf-8", "surrogateescape")] = (blob.decode(), int(size) if size.isdigit() else 0)
            self.trees[sha] = listing
        return self.trees[sha]

    def blobs(self, ids: list[str]) -> dict[str, bytes | None]:
        """Each blob's bytes, None for an object the clone lacks: one ``cat-file --batch`` for all."""
        data = subprocess.run(["git", "-C", self.folder, "cat-file", "--batch"], capture_output=True, check=True,
                              input="".join(i + "\n" for i in ids).encode()).stdout
        out, pos = {}, 0
        for blob_id in ids:
            end = data.index(b"\n", pos)
            header, pos = data[pos:end].split(), end + 1
            if header[-1] == b"missing":
                out[blob_id] = None
            else:
                size = int(header[2])
                out[blob_id], pos = data[pos:pos + size], pos + size + 1
        return out


FILE_TYPE = pa.struct([(n, pa.string()) for n in ("path", "base_content", "head_content", "language")])
GIT_SCHEMA = pa.schema([("kind", pa.string()), *[(k, pa.string()) for k in PAIR_KEYS], ("base_files_repo", pa.string()),
                        ("head_files_repo", pa.string()), ("files", pa.list_(FILE_TYPE)),
                        *[(c, pa.string()) for c in ("id", "id_kind", "rule", "value", "detail")]])
GIT_DDL = ", ".join(f"{f.name} {'array<' + FILE_STRUCT + '>' if f.name == 'files' else 'string'}" for f in GIT_SCHEMA)


def git_changed(pairs: DataFrame, cfg: ContentsConfig) -> tuple[DataFrame, DataFrame]:
    """Pairs located by repository name in the clones, sorted by clone so one task reads one clone's
    pairs together; git does the rest on the executors."""
    spark = pairs.sparkSession
    clones = spark.createDataFrame(list_clones(cfg.git) or [("", "")], "name string, folder string")
    for side in ("base", "head"):
        pairs = pairs.join(F.broadcast(clones.select(F.col("name").alias(f"{side}_repo"),
                                                     F.col("folder").alias(f"{side}_dir"))), f"{side}_repo", "left")
    where = F.coalesce("base_dir", "head_dir", F.lit(""))
    parallelism = spark.sparkContext.defaultParallelism * 2
    max_bytes = cfg.max_file_bytes
    rows = (pairs.repartition(parallelism, where).sortWithinPartitions(where, *PAIR_KEYS)
            .mapInArrow(lambda batches: _git_batches(batches, max_bytes), GIT_DDL)
            .persist(StorageLevel.DISK_ONLY))
    changed = rows.where(F.col("kind") == "pair").select(*PAIR_KEYS, "base_files_repo", "head_files_repo", "files")
    ledger = tables.conform(rows.where(F.col("kind") == "ledger"), "ledger").distinct()
    return changed, ledger


def _git_batches(batches: Iterator[pa.RecordBatch], max_bytes: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        pairs = batch.to_pylist()
        for start in range(0, len(pairs), PAIRS_PER_READ):
            yield pa.RecordBatch.from_pylist(_git_rows(pairs[start:start + PAIRS_PER_READ], max_bytes), schema=GIT_SCHEMA)


def _locate(pair: dict, side: str, clones: dict[str, Clone], out: list[dict]) -> tuple[Clone, dict] | None:
    """The clone holding the side's commit and that commit's files; None (and a ledger row) if none does."""
    repo, sha = pair[f"{side}_repo"], pair[f"{side}_sha"]
    folders = list(dict.fromkeys(f for f in (pair["base_dir"], pair["head_dir"]) if f))
    commit = f"{repo}@{sha}"
    if not folders:
        out.append(_ledger(commit, "commit", "repo_missing", "no clone of " + " or ".join(
            sorted({pair["base_repo"], pair["head_repo"]} - {""})), "conversations.contents.git"))
        return None
    if SHA.match(sha):
        for folder in folders:
            clone = clones.setdefault(folder, Clone(folder))
            listing = clone.tree(sha)
            if listing is not None:
                return clone, listing
    out.append(_ledger(commit, "commit", "commit_missing", sha, "not in " + ", ".join(folders)))
    return None


def _git_rows(pairs: list[dict], max_bytes: int) -> list[dict]:
    """Output rows of a slice of pairs: one per pair, and ledger rows; blobs read once per clone."""
    out: list[dict] = []
    clones: dict[str, Clone] = {}
    plans = []
    for pair in pairs:
        base, head = _locate(pair, "base", clones, out), _locate(pair, "head", clones, out)
        plans.append((pair, base, head))
    wanted: dict[str, set[str]] = {}          # clone folder -> blob ids to read
    for pair, base, head in plans:
        for path in _changed_paths(base[1], head[1]) if base and head else []:
            for clone, listing in (base, head):
                if path in listing and listing[path][1] < max_bytes:
                    wanted.setdefault(clone.folder, set()).add(listing[path][0])
    read = {folder: _read(clones[folder], sorted(ids)) for folder, ids in sorted(wanted.items())}
    for pair, base, head in plans:
        out.append({"kind": "pair", **{k: pair[k] for k in PAIR_KEYS},
                    "base_files_repo": f"{pair['base_repo']}@{pair['base_sha']}" if base else None,
                    "head_files_repo": f"{pair['head_repo']}@{pair['head_sha']}" if head else None,
                    "files": _pair_files(pair, base, head, read, max_bytes, out) if base and head else None})
    return out


def _pair_files(pair: dict, base: tuple, head: tuple, read: dict[str, dict], max_bytes: int,
                out: list[dict]) -> list[dict]:
    """The changed files of one located pair; a file a side cannot give is a ledger row instead."""
    files = []
    for path in _changed_paths(base[1], head[1]):
        sides = {}
        for side, (clone, listing) in (("base", base), ("head", head)):
            blob_id, size = listing.get(path, (None, 0))
            sides[side] = _text(read.get(clone.folder, {}).get(blob_id), size, max_bytes) if blob_id else (None, None, None)
        bad = next((s for s in ("base", "head") if sides[s][1]), None)
        if bad:
            out.append(_ledger(f"{pair[bad + '_repo']}@{pair[bad + '_sha']}:{path}", "commit_file",
                               sides[bad][1], sides[bad][2], pair[bad + "_repo"]))
            continue
        text = sides["base"][0] if sides["base"][0] is not None else sides["head"][0]
        files.append({"path": path, "base_content": sides["base"][0], "head_content": sides["head"][0],
                      "language": detect_language(path, text)})
    return files


def _changed_paths(base: dict[str, tuple[str, int]], head: dict[str, tuple[str, int]]) -> list[str]:
    return sorted(p for p in base.keys() | head.keys() if base.get(p, ("",))[0] != head.get(p, ("",))[0])


def _read(clone: Clone, ids: list[str]) -> dict[str, bytes | None]:
    """Blobs in chunks of about READ_CHUNK_BYTES (each id's size is known from ls-tree)."""
    sizes = {blob: size for listing in clone.trees.values() if listing for blob, size in listing.values()}
    out: dict[str, bytes | None] = {}
    chunk, total = [], 0
    for blob_id in ids + [None]:
        if blob_id is None or (chunk and total + sizes.get(blob_id, 0) > READ_CHUNK_BYTES):
            if chunk:
                out.update(clone.blobs(chunk))
            chunk, total = [], 0
        if blob_id is not None:
            chunk.append(blob_id)
            total += sizes.get(blob_id, 0)
    return out


def _text(raw: bytes | None, size: int, max_bytes: int) -> tuple[str | None, str | None, str | None]:
    """(text, rule, value) of one blob: its text, or why it cannot be a base or head file."""
    if size >= max_bytes:
        return None, "too_large", str(size)
    if raw is None:
        return None, "blob_missing", "object not in the clone"
    decoded = decode(raw)
    return (decoded.text, None, None) if decoded.rule is None else (None, decoded.rule, decoded.value)


# ------------------------------------------------------------------------------ Software Heritage

def swh_changed(pairs: DataFrame, cfg: ContentsConfig, s3: S3Config) -> tuple[DataFrame, DataFrame]:
    """Commits found by revision_id in the index; changed paths by blob id; their blobs fetched."""
    from codecorpus.sources.stack_v2 import _with_known, fetch_contents, load_index
    index = load_index(pairs.sparkSession, cfg.swh, s3)
    if "revision_id" not in index.columns:
        raise ValueError(f"the swh index {cfg.swh.index} has no revision_id column: the commits' files "
                         "cannot be found (conversations.contents.swh)")
    cols = set(index.columns)
    listing = index.select("revision_id", "repo_name", "path", "blob_id",
                           (F.col("length_bytes") if "length_bytes" in cols else F.lit(None)).cast("bigint").alias("size"),
                           (F.col("src_encoding") if "src_encoding" in cols else F.lit(None)).cast("string").alias("encoding"))
    # A commit listed under several repositories (forks share commits): the smallest name's listing.
    owner = listing.groupBy("revision_id").agg(F.min("repo_name").alias("repo_name"))
    listing = listing.join(owner, ["revision_id", "repo_name"]).drop("repo_name")
    found = owner.select(F.col("revision_id").alias("sha"), F.lit(True).alias("found"))
    missing = []
    for side in ("base", "head"):
        pairs = (pairs.join(found, F.col(f"{side}_sha") == F.col("sha"), "left")
                 .withColumn(f"{side}_files_repo", F.when(F.col("found"), F.concat_ws("@", f"{side}_repo", f"{side}_sha")))
                 .drop("sha", "found"))
        missing.append(pairs.where(F.col(f"{side}_files_repo").isNull()).select(
            F.concat_ws("@", f"{side}_repo", f"{side}_sha").alias("id"), F.lit("commit").alias("id_kind"),
            F.lit("commit_missing").alias("rule"), F.col(f"{side}_sha").alias("value"),
            F.lit(f"not in the swh index {cfg.swh.index}").alias("detail")))
    both = pairs.where(F.col("base_files_repo").isNotNull() & F.col("head_files_repo").isNotNull())
    side_files = lambda s: both.select(*PAIR_KEYS).join(listing.select(   # noqa: E731
        F.col("revision_id").alias(f"{s}_sha"), "path", *[F.col(c).alias(f"{s}_{c}") for c in ("blob_id", "size", "encoding")]),
        f"{s}_sha")
    changed = (side_files("base").join(side_files("head"), PAIR_KEYS + ["path"], "full_outer")
               .where(~F.col("base_blob_id").eqNullSafe(F.col("head_blob_id"))))
    blobs = union_all([changed.where(F.col(f"{s}_blob_id").isNotNull()).select(
        F.col(f"{s}_blob_id").alias("blob_id"), F.col(f"{s}_size").alias("_size"), F.col(f"{s}_encoding").alias("_declared"))
        for s in ("base", "head")]).dropDuplicates(["blob_id"])
    bad_id = ~F.col("blob_id").rlike("^[0-9a-f]{40}$")
    blobs = blobs.withColumn("_skip", F.when(bad_id, F.lit("bad_blob_id"))
                             .when(F.col("_size") >= cfg.max_file_bytes, F.lit("too_large")))
    fetched = (fetch_contents(_with_known(blobs, None), s3, cfg.swh, cfg.max_file_bytes)
               .select("blob_id", F.col("_content").alias("content"),
                       F.coalesce("_skip", "_rule").alias("rule"),
                       F.when(F.col("_skip") == "too_large", F.col("_size").cast("string")).otherwise(F.col("_value")).alias("value"))
               .persist(StorageLevel.DISK_ONLY))
    for s in ("base", "head"):
        changed = changed.join(fetched.select(*[F.col(c).alias(f"{s}_{c}") for c in fetched.columns]),
                               f"{s}_blob_id", "left")
    changed = changed.persist(StorageLevel.DISK_ONLY)     # read for the files and for the ledger
    unreadable = union_all([changed.where(F.col(f"{s}_rule").isNotNull()).select(
        F.concat(F.col(f"{s}_repo"), F.lit("@"), F.col(f"{s}_sha"), F.lit(":"), F.col("path")).alias("id"),
        F.lit("commit_file").alias("id_kind"), F.col(f"{s}_rule").alias("rule"), F.col(f"{s}_value").alias("value"),
        F.col(f"{s}_repo").alias("detail")) for s in ("base", "head")])
    readable = changed.where(F.col("base_rule").isNull() & F.col("head_rule").isNull())
    grouped = (readable.select(*PAIR_KEYS, "path", "base_content", "head_content")
               .mapInArrow(_language_batches, ", ".join(f"{k} string" for k in PAIR_KEYS)
                           + ", path string, base_content string, head_content string, language string")
               .groupBy(*PAIR_KEYS).agg(F.collect_list(F.struct("path", "base_content", "head_content", "language"))
                                        .alias("files")))
    ledger = tables.conform(union_all(missing + [unreadable]), "ledger").distinct()
    return pairs.join(grouped, PAIR_KEYS, "left"), ledger


def _language_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        paths, base, head = (batch.column(c).to_pylist() for c in ("path", "base_content", "head_content"))
        languages = [detect_language(p, b if b is not None else h) for p, b, h in zip(paths, base, head)]
        yield pa.RecordBatch.from_arrays(list(batch.columns) + [pa.array(languages, pa.string())],
                                         names=batch.schema.names + ["language"])
