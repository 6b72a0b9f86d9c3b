"""Megatron-LM's indexed dataset (MMapIndexedDataset): a .bin of token ids and an .idx describing it.

Layout of the .idx (little-endian), as Megatron-LM's `indexed_dataset.py` reads it:
    b"MMIDIDX\\x00\\x00", version u64 = 1, dtype code u8, sequence count u64, document count u64,
    sizes int32[sequences], pointers int64[sequences] (byte offsets into .bin), doc_idx int64[documents + 1]
Each packed sequence is written as one Megatron "document". Ids are uint16 when the vocabulary fits
(code 8), else int32 (code 4).
"""
from __future__ import annotations

import struct
import fsspec
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MAGIC = b"MMIDIDX\x00\x00"
DTYPES = {8: np.uint16, 4: np.int32}


def dtype_code(vocab_size: int) -> int:
    return 8 if vocab_size <= 65535 else 4


def write_indexed(prefix: str, sequences: list[np.ndarray], code: int) -> None:
    dtype = DTYPES[code]
    sizes = np.array([len(s) for s in sequences], np.int32)
    pointers = np.concatenate([[0], np.cumsum(sizes[:-1], dtype=np.int64)]).astype(np.int64) * np.dtype(dtype).itemsize
    with fsspec.open(f"{prefix}.bin", "wb") as out:
        for seq in sequences:
            out.write(np.asarray(seq, dtype).tobytes())
    with fsspec.open(f"{prefix}.idx", "wb") as out:
        out.write(MAGIC + struct.pack("<QBQQ", 1, code, len(sequences), len(sequences) + 1))
        out.write(sizes.tobytes() + pointers[: len(sequences)].tobytes())
        out.write(np.arange(len(sequences) + 1, dtype=np.int64).tobytes())


def read_indexed(prefix: str) -> list[np.ndarray]:
    with fsspec.open(f"{prefix}.idx", "rb") as src:
        index = src.read()
    if not index.startswith(MAGIC):
        raise ValueError(f"{prefix}.idx is not a Megatron index (bad magic)")
    _, code, count, _ = struct.unpack_from("<QBQQ", index, len(MAGIC))
    at = len(MAGIC) + struct.calcsize("<QBQQ")
    sizes = np.frombuffer(index, np.int32, count, at)
    pointers = np.frombuffer(index, np.int64, count, at + 4 * count)
    with fsspec.open(f"{prefix}.bin", "rb") as src:
        data = src.read()
    dtype = DTYPES[code]
    return [np.frombuffer(data, dtype, int(n), int(p)) for n, p in zip(sizes, pointers)]


def export_megatron(sequences: DataFrame, out_dir: str, shard_sequences: int, vocab_size: int) -> DataFrame:
    """Write ``sequences`` (one seq_len) as {out_dir}/{seq_len}/shard-NNNNN.{bin,idx}, sequences in
    seq_index order, ``shard_sequences`` per shard, on the executors. Returns one row per shard."""
    code = dtype_code(vocab_size)

    def write(group: pd.DataFrame) -> pd.DataFrame:
        group = group.sort_values("seq_index")
        seq_len, shard = int(group["seq_len"].iloc[0]), int(group["shard"].iloc[0])
        prefix = f"{out_dir.rstrip('/')}/{seq_len}/shard-{shard:05d}"
        write_indexed(prefix, list(group["token_ids"]), code)
        return pd.DataFrame({"seq_len": [seq_len], "shard": [shard], "sequences": [len(group)],
                             "tokens": [int(group["n_tokens"].sum())], "prefix": [prefix]})

    return (sequences.withColumn("shard", F.floor(F.col("seq_index") / shard_sequences))
            .groupBy("seq_len", "shard")
            .applyInPandas(write, "seq_len int, shard bigint, sequences bigint, tokens bigint, prefix string"))
