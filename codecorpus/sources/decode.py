"""Bytes to UTF-8 text, as The Stack v2 did it: UTF-8 first, else the encoding cchardet detects
(recorded in `src_encoding`). Binary (NUL bytes) and undecodable bytes are rejected with a reason."""
from __future__ import annotations

import codecs
from dataclasses import dataclass

import cchardet

MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Decoded:
    text: str | None = None
    encoding: str | None = None
    rule: str | None = None      # why the bytes were rejected
    value: str | None = None


def decode(raw: bytes, declared: str | None = None) -> Decoded:
    """``declared``: an encoding the source already names (The Stack v2's `src_encoding`), tried first."""
    nul = raw.find(b"\0")
    if nul >= 0:
        return Decoded(rule="binary", value=f"NUL byte at offset {nul}")
    if declared and declared.upper().replace("_", "-") not in ("UTF-8", "UTF8", "ASCII", "UTF-8-SIG"):
        try:
            return Decoded(raw.decode(declared), declared.upper())
        except (UnicodeDecodeError, LookupError):
            pass
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return Decoded(raw[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8-SIG")
        except UnicodeDecodeError:
            pass
    try:
        return Decoded(raw.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError as exc:
        utf8_error = f"not UTF-8 at byte {exc.start}"
    guess = cchardet.detect(raw)
    encoding, confidence = guess.get("encoding"), guess.get("confidence") or 0.0
    if not encoding or confidence < MIN_CONFIDENCE:
        return Decoded(rule="undecodable", value=f"{utf8_error}; detected {encoding} at confidence {confidence:.2f}")
    try:
        return Decoded(raw.decode(encoding), encoding.upper())
    except (UnicodeDecodeError, LookupError) as exc:
        return Decoded(rule="undecodable", value=f"{utf8_error}; {encoding} failed: {exc}"[:300])
