"""Settings of the dedup stage: exact dedup by blob, and MinHash near-dedup (StarCoder2's defaults)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DedupConfig(BaseModel):
    """Exact and near dedup settings. Defaults are The Stack v2's (5-grams, 250 permutations, J 0.7).

    ``bands``/``rows`` left unset are derived from ``threshold`` and ``num_perm`` with datasketch's
    ``optimal_param`` (0.7 and 250 give 25 bands of 10 rows, BigCode's values)."""
    model_config = ConfigDict(extra="forbid")

    exact: bool = True
    near: bool = True
    # "file": near-duplicate files go, one survivor per cluster. "repo": whole repositories that are
    # near-copies of a better-ranked one go with all their files (complete repositories are kept).
    scope: Literal["file", "repo"] = "file"
    ngram: int = Field(5, ge=1)
    num_perm: int = Field(250, ge=2)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    threshold: float = Field(0.7, gt=0.0, lt=1.0)
    seed: int = 42
    # Documents with fewer tokens than max(min_tokens, ngram) get no signature and are never near-dups.
    min_tokens: int = Field(5, ge=1)
    # Only the first max_hash_chars characters of a file are shingled: bounds time and memory per file.
    max_hash_chars: int = Field(1_000_000, ge=1)
    # Every band bucket is split into up to bucket_salts sub-stars (by a hash of file_id) so a giant
    # bucket (licenses, empty __init__.py) spreads over that many tasks instead of one.
    bucket_salts: int = Field(16, ge=1)
    # Large-star/small-star rounds before giving up (observed O(log n); proven O(log^2 n)).
    max_iterations: int = Field(40, ge=1)
    # How a removal is checked, against its survivor and then the rest of its component: "exact" Jaccard
    # of the two shingle sets (moves the pairs' contents; removal precision 1 by construction), the
    # signatures' "estimate" (no content moves; removes some pairs just under the threshold), or "off"
    # (plain MinHash + components: all but the survivor go). Repository scope uses the estimate.
    verify: Literal["exact", "estimate", "off"] = "exact"

    @model_validator(mode="after")
    def _bands_fit(self) -> "DedupConfig":
        bands, rows = self.lsh_params()
        if bands * rows > self.num_perm:
            raise ValueError(f"dedup.bands * dedup.rows = {bands}*{rows} exceeds dedup.num_perm = "
                             f"{self.num_perm}; lower them or raise num_perm")
        return self

    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): the configured ones, or datasketch's optimum for the threshold."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        from datasketch.lsh import _optimal_param
        bands, rows = _optimal_param(self.threshold, self.num_perm, 0.5, 0.5)
        return self.bands or bands, self.rows or rows
