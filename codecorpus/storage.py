"""All persistence of a run: through Hadoop's FileSystem API for local paths, hdfs://, and s3a:// (where
the cluster ships hadoop-aws); through boto3 for s3:// when Spark has no file system for it.

Which one serves an S3 path: Hadoop when it has a file system for the path's scheme (EMR's s3://); an
s3:// or s3n:// path goes to s3a:// when hadoop-aws is there; otherwise boto3 (codecorpus.s3.objects
for files and folders, codecorpus.s3.tables for tables, committed by a manifest since S3 has no
rename). Scratch files (checkpoints) of an s3:// run without hadoop-aws go to `s3.staging_dir`.

Tables are written to a temporary path and renamed into place; part files get fixed names
(part-00000.parquet, ...) so a re-run produces byte-identical files.
"""
from __future__ import annotations

import hashlib
import tempfile
import uuid

from pyspark.sql import DataFrame, SparkSession

from codecorpus.s3 import objects
from codecorpus.s3 import tables as s3_tables
from codecorpus.s3.config import S3Config

S3_SCHEMES = ("s3", "s3a", "s3n")
S3_SETTINGS = "codecorpus.s3"     # session conf key: the run's S3Config, for every Storage of the session


class Storage:
    def __init__(self, spark: SparkSession, s3: S3Config | None = None):
        """``s3``: how boto3 reaches S3; given by the runner and kept in the session's conf, so every
        Storage built later in the session (e.g. by a stage) talks to the same endpoint."""
        self.spark = spark
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._jvm = jvm
        if s3 is not None:
            spark.conf.set(S3_SETTINGS, s3.model_dump_json())
        settings = spark.conf.get(S3_SETTINGS, None)
        self.s3 = S3Config.model_validate_json(settings) if settings else S3Config()

    # -- which file system -------------------------------------------------------------------------
    def native(self, path: str) -> str | None:
        """``path`` as Hadoop should see it, or None when boto3 serves it."""
        scheme = path.split("://", 1)[0] if "://" in path else ""
        if scheme not in S3_SCHEMES or _hadoop_has(self._jvm, self._conf, scheme):
            return path
        if scheme != "s3a" and _hadoop_has(self._jvm, self._conf, "s3a"):
            return "s3a" + path[len(scheme):]
        return None

    def scratch(self, path: str) -> str:
        """Where to put scratch files (Spark checkpoints) meant for ``path``: itself when Hadoop can
        write there, else under `s3.staging_dir` (default: a local temporary folder)."""
        if self.native(path) is not None:
            return path
        base = self.s3.staging_dir or f"{tempfile.gettempdir()}/codecorpus-staging"
        return f"{base.rstrip('/')}/{hashlib.sha1(path.encode()).hexdigest()[:16]}"

    def _fs(self, path: str):
        p = self._Path(self.native(path))
        return p.getFileSystem(self._conf), p

    # -- files and folders -------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        if self.native(path) is None:
            return objects.exists(path, self.s3)
        fs, p = self._fs(path)
        return bool(fs.exists(p))

    def delete(self, path: str) -> None:
        if self.native(path) is None:
            return objects.delete(path, self.s3)
        fs, p = self._fs(path)
        if fs.exists(p):
            fs.delete(p, True)

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``. On S3 through boto3 this copies then deletes (markers copied last)."""
        if self.native(src) is None:
            return objects.rename(src, dst, self.s3)
        fs, s = self._fs(src)
        target = self._Path(self.native(dst))
        parent = target.getParent()
        if parent is not None:
            fs.mkdirs(parent)
        if not fs.rename(s, target):
            raise OSError(f"could not rename {src} to {dst}")

    def listdir(self, path: str) -> list[str]:
        """Names of the entries of a directory, sorted; [] when it does not exist."""
        if self.native(path) is None:
            return objects.listdir(path, self.s3)
        fs, p = self._fs(path)
        if not fs.exists(p):
            return []
        return sorted(status.getPath().getName() for status in fs.listStatus(p))

    def write_text(self, path: str, text: str) -> None:
        """Write a small text file atomically (temporary name, then rename; one PUT on S3)."""
        self.write_bytes(path, text.encode("utf-8"))

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a small file (a report, a figure) atomically, as ``write_text``."""
        if self.native(path) is None:
            return objects.write_bytes(path, data, self.s3)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        fs, p = self._fs(tmp)
        stream = fs.create(p, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()
        self.delete(path)
        self.rename(tmp, path)

    def read_text(self, path: str) -> str | None:
        if self.native(path) is None:
            data = objects.read_bytes(path, self.s3)
            return None if data is None else "\n".join(data.decode("utf-8").splitlines())
        fs, p = self._fs(path)
        if not fs.exists(p):
            return None
        stream = fs.open(p)
        try:
            reader = self._jvm.java.io.BufferedReader(self._jvm.java.io.InputStreamReader(stream, "UTF-8"))
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    # -- tables --------------------------------------------------------------------------------------
    def read_table(self, *paths: str, manifest_required: bool = True) -> DataFrame:
        """The Parquet tables at ``paths`` as one DataFrame (what ``spark.read.parquet`` does). On S3
        through boto3 a table is what its manifest names; ``manifest_required=False`` also reads a
        prefix without one (a published dataset) as all its Parquet objects."""
        if self.native(paths[0]) is None:
            return s3_tables.read_table(self.spark, list(paths), self.s3, manifest_required)
        return self.spark.read.parquet(*(self.native(p) for p in paths))

    def write_parquet(self, df: DataFrame, path: str) -> None:
        """Write ``df`` as Parquet at ``path`` as it is partitioned (a shard's intermediate output)."""
        if self.native(path) is None:
            s3_tables.write_table(df, path, self.s3)
        else:
            df.write.mode("overwrite").parquet(self.native(path))

    def write_table(self, df: DataFrame, path: str, num_files: int, sort_by: list[str]) -> None:
        """Write ``df`` as Parquet at ``path``: hash-partitioned into ``num_files`` by the first sort key
        and sorted within each file, so rows and their order do not depend on upstream partitioning."""
        if self.native(path) is None:
            s3_tables.write_table(df, path, self.s3, num_files, sort_by)
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        (df.repartition(num_files, sort_by[0]).sortWithinPartitions(*sort_by)
           .write.mode("overwrite").parquet(self.native(tmp)))
        self._canonical_names(tmp)
        self.delete(path)
        self.rename(tmp, path)

    def write_lines(self, df: DataFrame, path: str, num_files: int, sort_by: list[str], column: str,
                    ext: str = ".jsonl") -> None:
        """Write the string ``column`` of ``df`` as text files (one value a line), partitioned and sorted
        as ``write_table`` does, named part-00000<ext>, ..."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        lines = df.repartition(num_files, sort_by[0]).sortWithinPartitions(*sort_by).select(column)
        if self.native(path) is None:     # S3 has no rename: each part is copied once, to its final name
            self.write_parts(lines, tmp, "text")
            self.publish_parts(tmp, path, ext)
            self.delete(tmp)
            return
        lines.write.mode("overwrite").text(self.native(tmp))
        self._canonical_names(tmp, ext)
        self.delete(path)
        self.rename(tmp, path)

    def write_parts(self, df: DataFrame, folder: str, fmt: str = "parquet", partition_by: str | None = None) -> None:
        """Write ``df`` as it is partitioned into the new folder ``folder``, a file per task (and per
        value of ``partition_by``, in `<column>=<value>/`) named part-<task>..., in ``fmt`` (parquet, or
        text from one string column). The caller gives the parts their names (``publish_parts``)."""
        if self.native(folder) is None:
            return s3_tables.write_parts(df, folder, self.s3, fmt, partition_by)
        writer = df.write.mode("overwrite").format(fmt)
        (writer.partitionBy(partition_by) if partition_by else writer).save(self.native(folder))

    def part_files(self, folder: str) -> list[str]:
        """The part files of ``folder`` in task order (part-<task>-<uuid>... or part-<task>.<ext>)."""
        parts = [n for n in self.listdir(folder) if n.startswith("part-") and not n.endswith(".crc")]
        return sorted(parts, key=lambda n: (n.split("-")[1], n))

    def publish_parts(self, folder: str, dest: str, ext: str = ".parquet") -> int:
        """Replace ``dest`` by the part files of ``folder``, named part-00000<ext>, ...; returns how many."""
        self.delete(dest)
        parts = self.part_files(folder)
        for index, name in enumerate(parts):
            self.rename(f"{folder}/{name}", f"{dest}/part-{index:05d}{ext}")
        return len(parts)

    def _canonical_names(self, directory: str, ext: str = ".parquet") -> None:
        directory = self.native(directory)
        fs, p = self._fs(directory)
        parts = []
        for status in fs.listStatus(p):
            name = status.getPath().getName()
            if name.startswith("part-") and not name.endswith(".crc"):
                parts.append(name)
            elif name.startswith(".") or name.startswith("_"):
                fs.delete(status.getPath(), False)
        # Spark names parts part-<task>-<uuid>...; the task number orders them.
        for index, name in enumerate(sorted(parts, key=lambda n: (n.split("-")[1], n))):
            fs.rename(self._Path(f"{directory}/{name}"), self._Path(f"{directory}/part-{index:05d}{ext}"))
        for status in fs.listStatus(p):
            if status.getPath().getName().endswith(".crc"):
                fs.delete(status.getPath(), False)


_HADOOP_SCHEMES: dict[str, bool] = {}


def _hadoop_has(jvm, conf, scheme: str) -> bool:
    """Whether Hadoop has a FileSystem for ``scheme`` (s3a:// needs the hadoop-aws jar)."""
    if scheme not in _HADOOP_SCHEMES:
        try:
            jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(scheme, conf)
            _HADOOP_SCHEMES[scheme] = True
        except Exception:     # noqa: BLE001 - py4j wraps UnsupportedFileSystemException and kin
            _HADOOP_SCHEMES[scheme] = False
    return _HADOOP_SCHEMES[scheme]
