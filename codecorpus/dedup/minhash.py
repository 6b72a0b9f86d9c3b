"""MinHash signatures, vectorised with numpy over batches of documents.

Shingles are BigCode's (text-dedup ``minhash_spark.py``): tokens are ``re.split(r"\\W", content.lower())``
(empty tokens kept) and a shingle is ``ngram`` consecutive tokens; a document is the *set* of its shingles.
Hashing differs from BigCode's in how, not in what: BigCode hashes each joined shingle string with xxh32 and
permutes it modulo a prime, one Python call per shingle and ~8 ns per modulo. Here a batch of documents is
one byte buffer, every token is hashed once with xxh32 as array operations, a shingle's 64-bit hash mixes
its ``ngram`` token hashes (odd multipliers, then MurmurHash3's finaliser), and permutations are
``(a*x + b) mod 2^32`` with odd ``a`` (datasketch's affine32 scheme), wrapping uint32 arithmetic at well
under a nanosecond per element. The same shingle set gives the same signature, the estimator is the same
(tests compare it with datasketch on real pairs), and it runs about ten times faster.
"""
from __future__ import annotations

import re

import numpy as np
import xxhash

_NON_WORD = re.compile(r"\W")
# Byte classes of the joined buffer: ASCII word characters and every byte >= 0x80 (the remains of
# non-ASCII word characters, since non-ASCII non-word characters were replaced by NUL) are token bytes.
_IS_SEP = np.ones(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _IS_SEP[_c] = False
_IS_SEP[0x80:] = False

_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_WORD_SALT = np.uint64(0x9E3779B97F4A7C15)
_PERM_CHUNK = 8192         # shingles permuted at once
# Odd 64-bit multipliers, one per position in the shingle (up to 64 tokens per shingle).
_POSITION = (np.random.RandomState(0x5EED).randint(0, 2**63, size=64, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)
_FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_U64 = (1 << 64) - 1
_U32 = (1 << 32) - 1


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Affine permutations of uint32: odd ``a`` and any ``b``, from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    a = rng.randint(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.randint(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


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
    buf = np.frombuffer(b"\0".join(parts) + b"\0\0\0\0", dtype=np.uint8)
    return buf, ends


def _words_at(words: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The little-endian uint64 starting at each byte offset, from the buffer viewed as aligned words:
    two aligned loads and shifts (a gather of 8-byte rows at odd offsets is ten times slower)."""
    q, r = offsets >> 3, (offsets & 7).astype(np.uint64) << np.uint64(3)
    # (next << 1) << (63 - r) is next << (64 - r) without the undefined shift by 64 when r = 0.
    return (words[q] >> r) | ((words[q + 1] << np.uint64(1)) << (np.uint64(63) - r))


def _token_hashes(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """64-bit hash of every token ``buf[s:s+l]``. A token of up to 16 bytes is its two little-endian
    words (no token holds a NUL, so the words determine the token), mixed by MurmurHash3's finaliser;
    a longer one is hashed by xxh64 itself (rare: long identifiers, base64 runs)."""
    words = np.frombuffer(buf.tobytes() + bytes(24 - len(buf) % 8), dtype="<u8")
    # Most tokens of code are empty (runs of spaces): they all share one hash, computed once.
    hashes = np.full(len(starts), _EMPTY_TOKEN_HASH, dtype=np.uint64)
    idx = np.nonzero(lengths)[0]
    s, n = starts[idx], lengths[idx]
    w0 = _words_at(words, s) & _LOW_BYTES[np.minimum(n, 8)]
    w1 = _words_at(words, s + 8) & _LOW_BYTES[np.clip(n - 8, 0, 8)]
    hashes[idx] = _fmix64(w0 ^ _fmix64(w1 + _WORD_SALT))
    for i in np.nonzero(lengths > 16)[0]:
        hashes[i] = xxhash.xxh64_intdigest(buf[starts[i]:starts[i] + lengths[i]].tobytes())
    return hashes


def _fmix64(h: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(33))
        h = h * _FMIX[0]
        h = h ^ (h >> np.uint64(33))
        h = h * _FMIX[1]
        return h ^ (h >> np.uint64(33))


def shingle_hashes(texts: list[str], ngram: int = 5, min_tokens: int = 5,
                   max_chars: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(uint32 hash of every shingle, index of its document), in document order; a shingle that occurs
    twice in a document appears twice (the minimum does not mind).

    A document with fewer than max(ngram, min_tokens) tokens has no shingles."""
    if ngram > len(_POSITION):
        raise ValueError(f"dedup.ngram = {ngram} is above the supported {len(_POSITION)} tokens per shingle")
    buf, doc_ends = _layout(texts, max_chars)
    size = len(buf) - 4
    sep_pos = np.nonzero(_IS_SEP[buf[:size]])[0]
    # Documents are separated by one NUL, so splitting the whole buffer yields every document's tokens
    # in order; document d's tokens start right after the separator ending document d-1.
    tok_start = np.concatenate(([0], sep_pos + 1))
    tok_end = np.concatenate((sep_pos, [size]))
    token_hash = _token_hashes(buf, tok_start, tok_end - tok_start)
    end_sep_index = np.searchsorted(sep_pos, doc_ends[:-1])
    doc_first_token = np.concatenate(([0], end_sep_index + 1))
    doc_tokens = np.diff(np.concatenate((doc_first_token, [len(tok_start)])))
    n_sh = np.where(doc_tokens >= max(ngram, min_tokens), doc_tokens - ngram + 1, 0)
    doc_of = np.repeat(np.arange(len(texts)), n_sh)
    offset_in_doc = np.arange(len(doc_of)) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh)
    first = np.repeat(doc_first_token, n_sh) + offset_in_doc
    mixed = np.zeros(len(first), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            mixed += token_hash[first + k] * _POSITION[k]
    return (_fmix64(mixed) >> np.uint64(32)).astype(np.uint32), doc_of


def signatures(texts: list[str], a: np.ndarray, b: np.ndarray, ngram: int = 5, min_tokens: int = 5,
               max_chars: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(signatures uint32 [n_docs, num_perm], has_signature bool [n_docs]) for a batch of texts."""
    hashes, doc_of = shingle_hashes(texts, ngram, min_tokens, max_chars)
    # A document is a set of shingles: repeats next to each other (indentation runs, repeated lines) are
    # dropped in one pass, a third of them on code; a full sort to drop all costs more than it saves.
    fresh = np.concatenate((np.ones(min(len(hashes), 1), bool), (hashes[1:] != hashes[:-1]) | (doc_of[1:] != doc_of[:-1])))
    hashes, doc_of = hashes[fresh], doc_of[fresh]
    # Permutations along rows and shingles along columns: the minimum per document is a reduction along
    # contiguous memory, and 8192-shingle chunks (8 MB) measured fastest.
    sig = np.full((len(a), len(texts)), _U32, dtype=np.uint32)
    out = np.empty((len(a), _PERM_CHUNK), dtype=np.uint32)
    a_col, b_col = a[:, None], b[:, None]
    for lo in range(0, len(hashes), _PERM_CHUNK):
        docs = doc_of[lo:lo + _PERM_CHUNK]
        perm = out[:, :len(docs)]
        np.multiply(a_col, hashes[lo:lo + _PERM_CHUNK], out=perm)
        np.add(perm, b_col, out=perm)
        cuts = np.concatenate(([0], np.nonzero(docs[1:] != docs[:-1])[0] + 1))
        uniq = docs[cuts]
        sig[:, uniq] = np.minimum(sig[:, uniq], np.minimum.reduceat(perm, cuts, axis=1))
    has = np.zeros(len(texts), dtype=bool)
    has[doc_of] = True
    return np.ascontiguousarray(sig.T), has


def shingle_sets(texts: list[str], ngram: int = 5, min_tokens: int = 5,
                 max_chars: int = 1_000_000) -> list[np.ndarray]:
    """Each text's set of shingle hashes (sorted unique uint32, the signatures' hashes); empty when the
    text is too short to shingle."""
    hashes, doc_of = shingle_hashes(texts, ngram, min_tokens, max_chars)
    bounds = np.searchsorted(doc_of, np.arange(len(texts) + 1))
    return [np.unique(hashes[bounds[i]:bounds[i + 1]]) for i in range(len(texts))]


def set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two shingle sets from :func:`shingle_sets` (0 when either is empty)."""
    if not (a.size and b.size):
        return 0.0
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common)


def reference_signature(text: str, a: np.ndarray, b: np.ndarray, ngram: int = 5,
                        min_tokens: int = 5) -> np.ndarray | None:
    """The same signature computed plainly, one shingle at a time in Python ints (tests, benchmarks)."""
    tokens = _NON_WORD.split(text.lower())
    if len(tokens) < max(ngram, min_tokens):
        return None
    token_hash = [_reference_token_hash(t.encode("utf-8")) for t in tokens]
    shingles = set()
    for i in range(len(tokens) - ngram + 1):
        shingles.add(_reference_fmix(sum(token_hash[i + k] * int(_POSITION[k]) for k in range(ngram)) & _U64) >> 32)
    x = np.array(sorted(shingles), dtype=np.uint64)
    return ((x[:, None] * a.astype(np.uint64) + b) & np.uint64(_U32)).min(axis=0).astype(np.uint32)


def _reference_fmix(h: int) -> int:
    """MurmurHash3's 64-bit finaliser on a Python int."""
    for mult in (*map(int, _FMIX), None):
        h ^= h >> 33
        if mult is not None:
            h = (h * mult) & _U64
    return h


def _reference_token_hash(token: bytes) -> int:
    if len(token) > 16:
        return xxhash.xxh64_intdigest(token)
    w0, w1 = (int.from_bytes(token[i:i + 8], "little") for i in (0, 8))
    return _reference_fmix(w0 ^ _reference_fmix((w1 + int(_WORD_SALT)) & _U64))


_EMPTY_TOKEN_HASH = np.uint64(_reference_token_hash(b""))
