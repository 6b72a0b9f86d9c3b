"""All persistence of a run, through Hadoop's FileSystem API so the same code serves local paths,
hdfs:// and s3a:// (where the cluster ships hadoop-aws).

Tables are written to a temporary path and renamed into place; part files get fixed names
(part-00000.parquet, ...) so a re-run produces byte-identical files.
"""
from __future__ import annotations

import uuid

from pyspark.sql import DataFrame, SparkSession


class Storage:
    def __init__(self, spark: SparkSession):
        self.spark = spark
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._jvm = jvm

    def _fs(self, path: str):
        p = self._Path(path)
        return p.getFileSystem(self._conf), p

    def exists(self, path: str) -> bool:
        fs, p = self._fs(path)
        return bool(fs.exists(p))

    def delete(self, path: str) -> None:
        fs, p = self._fs(path)
        if fs.exists(p):
            fs.delete(p, True)

    def rename(self, src: str, dst: str) -> None:
        fs, s = self._fs(src)
        parent = self._Path(dst).getParent()
        if parent is not None:
            fs.mkdirs(parent)
        if not fs.rename(s, self._Path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def listdir(self, path: str) -> list[str]:
        """Names of the entries of a directory, sorted; [] when it does not exist."""
        fs, p = self._fs(path)
        if not fs.exists(p):
            return []
        return sorted(status.getPath().getName() for status in fs.listStatus(p))

    def write_text(self, path: str, text: str) -> None:
        """Write a small text file atomically (temporary name, then rename)."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        fs, p = self._fs(tmp)
        stream = fs.create(p, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        self.delete(path)
        self.rename(tmp, path)

    def read_text(self, path: str) -> str | None:
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

    def write_table(self, df: DataFrame, path: str, num_files: int, sort_by: list[str]) -> None:
        """Write ``df`` as Parquet at ``path``: hash-partitioned into ``num_files`` by the first sort key
        and sorted within each file, so rows and their order do not depend on upstream partitioning."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        (df.repartition(num_files, sort_by[0]).sortWithinPartitions(*sort_by)
           .write.mode("overwrite").parquet(tmp))
        self._canonical_names(tmp)
        self.delete(path)
        self.rename(tmp, path)

    def write_lines(self, df: DataFrame, path: str, num_files: int, sort_by: list[str], column: str,
                    ext: str = ".jsonl") -> None:
        """Write the string ``column`` of ``df`` as text files (one value a line), partitioned and sorted
        as ``write_table`` does, named part-00000<ext>, ..."""
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        (df.repartition(num_files, sort_by[0]).sortWithinPartitions(*sort_by).select(column)
           .write.mode("overwrite").text(tmp))
        self._canonical_names(tmp, ext)
        self.delete(path)
        self.rename(tmp, path)

    def _canonical_names(self, directory: str, ext: str = ".parquet") -> None:
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
