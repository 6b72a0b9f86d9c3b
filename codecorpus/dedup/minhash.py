"""MinHash signatures, vectorised with numpy over batches of documents.

Same definition as BigCode's near-dedup (text-dedup ``minhash_spark.py``): tokens are
``re.split(r"\\W", content.lower())`` (empty tokens kept), shingles are ``ngram`` consecutive tokens
joined by a space, hashed with xxh32 (seed 0), permuted with ``((x*a + b) mod P) & 0xFFFFFFFF``,
``P = 4294967291``, ``a, b`` drawn from ``numpy.random.RandomState(seed)``; the signature is the
per-permutation minimum. Instead of one Python call per shingle, a batch of documents is laid out in one
byte buffer (separators become spaces, so each shingle is a contiguous slice of it), xxh32 runs as array
operations over all slices at once, and the modulo is folded with 2^32 = 5 (mod P).
"""
from __future__ import annotations

import re

import numpy as np
import xxhash

MERSENNE_LIKE_P = np.uint64(4294967291)  # largest prime below 2^32, BigCode's MOD_PRIME
_M32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_FIVE = np.uint64(5)
_NON_WORD = re.compile(r"\W")
# Byte classes of the joined buffer: ASCII word characters and every byte >= 0x80 (the remains of
# non-ASCII word characters, since non-ASCII non-word characters were replaced by NUL) are token bytes.
_IS_SEP = np.ones(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _IS_SEP[_c] = False
_IS_SEP[0x80:] = False

_P1, _P2, _P3, _P4, _P5 = (np.uint32(v) for v in (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1))
_LONG_SHINGLE = 1024       # shingles longer than this (huge tokens) use xxhash itself: they are rare
_PERM_CHUNK = 256          # shingles permuted at once: 256 x 250 x 8 bytes stays in cache


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """BigCode's permutation parameters: ``a`` in [1, P), ``b`` in [0, P), from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    a = rng.randint(1, int(MERSENNE_LIKE_P), size=num_perm, dtype=np.uint64)
    b = rng.randint(0, int(MERSENNE_LIKE_P), size=num_perm, dtype=np.uint64)
    return a, b


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _words(buf: np.ndarray) -> np.ndarray:
    """Little-endian uint32 starting at every byte offset (``buf`` carries 3 bytes of padding)."""
    b = buf.astype(np.uint32)
    return b[:-3] | (b[1:-2] << np.uint32(8)) | (b[2:-1] << np.uint32(16)) | (b[3:] << np.uint32(24))


def xxh32_slices(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """xxh32 (seed 0) of ``buf[s:s+l]`` for every (s, l), as array operations.

    ``buf`` is uint8 and must have at least 3 bytes after the last slice."""
    with np.errstate(over="ignore"):
        words = _words(buf)
        n = len(starts)
        lengths32 = lengths.astype(np.uint32)
        h = np.full(n, _P5, dtype=np.uint32)
        # 16-byte stripes into four accumulators, for slices of 16 bytes or more.
        long_idx = np.nonzero(lengths >= 16)[0]
        if long_idx.size:
            acc = [np.full(long_idx.size, v, dtype=np.uint32)
                   for v in (_P1 + _P2, _P2, np.uint32(0), np.uint32(0) - _P1)]
            stripes = lengths[long_idx] // 16
            active = np.arange(long_idx.size)
            k = 0
            while active.size:
                off = starts[long_idx[active]] + 16 * k
                for lane in range(4):
                    v = acc[lane][active] + words[off + 4 * lane] * _P2
                    acc[lane][active] = _rotl(v, 13) * _P1
                k += 1
                active = active[stripes[active] > k]
            h[long_idx] = _rotl(acc[0], 1) + _rotl(acc[1], 7) + _rotl(acc[2], 12) + _rotl(acc[3], 18)
        h = h + lengths32
        # Tail: up to three 4-byte words, then up to three single bytes.
        pos = starts + (lengths // 16) * 16
        rem = lengths % 16
        for j in range(3):
            take = rem >= 4 * (j + 1)
            step = _rotl(h + words[np.where(take, pos + 4 * j, 0)] * _P3, 17) * _P4
            h = np.where(take, step, h)
        pos = pos + (rem // 4) * 4
        rem = rem % 4
        for j in range(3):
            take = rem > j
            step = _rotl(h + buf[np.where(take, pos + j, 0)].astype(np.uint32) * _P5, 11) * _P1
            h = np.where(take, step, h)
        h ^= h >> np.uint32(15)
        h *= _P2
        h ^= h >> np.uint32(13)
        h *= _P3
        h ^= h >> np.uint32(16)
    return h


def _layout(texts: list[str], max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """One byte buffer for all documents (one NUL between them, 4 bytes of padding) and the byte
    offset where each document ends."""
    parts = []
    for text in texts:
        low = text[:max_chars].lower()
        # Non-ASCII text: mark \W characters with NUL in str space so multi-byte separators become one
        # byte; the remaining bytes >= 0x80 are then all parts of word characters.
        parts.append(low.encode("ascii") if low.isascii() else _NON_WORD.sub("\0", low).encode("utf-8"))
    ends = np.cumsum([len(p) + 1 for p in parts], dtype=np.int64) - 1
    buf = np.frombuffer(b"\0".join(parts) + b"\0\0\0\0", dtype=np.uint8).copy()
    return buf, ends


def shingle_hashes(texts: list[str], ngram: int = 5, min_tokens: int = 5,
                   max_chars: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(xxh32 of every distinct-position shingle, index of its document), in document order.

    A document with fewer than max(ngram, min_tokens) tokens has no shingles."""
    buf, doc_ends = _layout(texts, max_chars)
    size = len(buf) - 4
    sep_pos = np.nonzero(_IS_SEP[buf[:size]])[0]
    buf[sep_pos] = 0x20                        # a shingle is its tokens joined by one space
    # Documents are separated by one NUL, so splitting the whole buffer yields every document's tokens
    # in order; document d's tokens start right after the separator ending document d-1.
    tok_start = np.concatenate(([0], sep_pos + 1))
    tok_end = np.concatenate((sep_pos, [size]))
    end_sep_index = np.searchsorted(sep_pos, doc_ends[:-1])
    doc_first_token = np.concatenate(([0], end_sep_index + 1))
    doc_tokens = np.diff(np.concatenate((doc_first_token, [len(tok_start)])))
    n_sh = np.where(doc_tokens >= max(ngram, min_tokens), doc_tokens - ngram + 1, 0)
    total = int(n_sh.sum())
    doc_of = np.repeat(np.arange(len(texts)), n_sh)
    offset_in_doc = np.arange(total) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh)
    first = np.repeat(doc_first_token, n_sh) + offset_in_doc
    starts = tok_start[first]
    lengths = tok_end[first + ngram - 1] - starts
    hashes = np.empty(total, dtype=np.uint32)
    short = lengths <= _LONG_SHINGLE
    hashes[short] = xxh32_slices(buf, starts[short], lengths[short])
    for i in np.nonzero(~short)[0]:
        hashes[i] = xxhash.xxh32_intdigest(buf[starts[i]:starts[i] + lengths[i]].tobytes())
    return hashes, doc_of


def _permuted_min(x: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """min over rows of ``(x*a + b) mod P`` for shingle hashes ``x``, in preallocated buffers.

    x, a, b < 2^32 so x*a + b < 2^64 never wraps; the modulo folds twice with 2^32 = 5 (mod P), leaving
    a value below P + 30, then one conditional subtract (as an unsigned min with its wrapped difference).
    The result is below P < 2^32, so BigCode's final ``& 0xFFFFFFFF`` changes nothing."""
    n = len(x)
    out, tmp = out[:n], tmp[:n]
    np.multiply(x[:, None], a, out=out)
    np.add(out, b, out=out)
    for _ in range(2):
        np.right_shift(out, _SHIFT32, out=tmp)
        np.bitwise_and(out, _M32, out=out)
        np.multiply(tmp, _FIVE, out=tmp)
        np.add(out, tmp, out=out)
    np.subtract(out, MERSENNE_LIKE_P, out=tmp)
    np.minimum(out, tmp, out=out)
    return out


def signatures(texts: list[str], a: np.ndarray, b: np.ndarray, ngram: int = 5, min_tokens: int = 5,
               max_chars: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(signatures uint32 [n_docs, num_perm], has_signature bool [n_docs]) for a batch of texts."""
    hashes, doc_of = shingle_hashes(texts, ngram, min_tokens, max_chars)
    # A document's shingles are a set (as in BigCode): repeated shingles (indentation runs, repeated
    # lines) are permuted once. Sorting (doc, hash) keys also keeps documents in order.
    keys = np.sort((doc_of.astype(np.uint64) << _SHIFT32) | hashes.astype(np.uint64))
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    doc_of = (keys >> _SHIFT32).astype(np.int64)
    hashes = keys & _M32
    sig = np.full((len(texts), len(a)), 0xFFFFFFFF, dtype=np.uint64)
    out = np.empty((_PERM_CHUNK, len(a)), dtype=np.uint64)
    tmp = np.empty_like(out)
    for lo in range(0, len(hashes), _PERM_CHUNK):
        docs = doc_of[lo:lo + _PERM_CHUNK]
        perm = _permuted_min(hashes[lo:lo + _PERM_CHUNK], a, b, out, tmp)
        cuts = np.concatenate(([0], np.nonzero(docs[1:] != docs[:-1])[0] + 1))
        uniq = docs[cuts]
        sig[uniq] = np.minimum(sig[uniq], np.minimum.reduceat(perm, cuts, axis=0))
    has = np.zeros(len(texts), dtype=bool)
    has[doc_of] = True
    return sig.astype(np.uint32), has


def reference_signature(text: str, a: np.ndarray, b: np.ndarray, ngram: int = 5,
                        min_tokens: int = 5) -> np.ndarray | None:
    """The plain per-shingle computation (BigCode's code path), for tests and benchmarks."""
    tokens = _NON_WORD.split(text.lower())
    if len(tokens) < max(ngram, min_tokens):
        return None
    shingles = {" ".join(tokens[i:i + ngram]).encode("utf-8") for i in range(len(tokens) - ngram + 1)}
    hv = np.array([xxhash.xxh32_intdigest(s) for s in shingles], dtype=np.uint64)
    return (((hv[:, None] * a + b) % MERSENNE_LIKE_P) & _M32).min(axis=0).astype(np.uint32)
