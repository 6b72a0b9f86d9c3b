"""The `pii` section of a run config: what to detect, what to keep, and the per-file time limit."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KINDS = ("email", "key", "password", "ip_address")


class PiiConfig(BaseModel):
    """Defaults follow StarCoder2 (StarPII): emails, keys, passwords and IP addresses on code."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    kinds: tuple[str, ...] = Field(default=KINDS, description="Which PII kinds to redact.")
    # StarCoder2 redacted every email, including the author lines of license headers; turning this on
    # keeps emails that sit in a file's leading comment next to copyright/author/license wording.
    keep_license_header_emails: bool = False
    license_header_chars: int = Field(default=2048, ge=0, description="How far into a file the header reaches.")
    # Generic "name = value" secrets: a key/token value must look random (Shannon bits per char).
    min_key_entropy: float = Field(default=3.0, ge=0)
    min_key_length: int = Field(default=12, ge=1)
    min_password_length: int = Field(default=4, ge=1, description="StarPII: a span must be longer than 3.")
    # A file whose scan takes longer is dropped with a ledger row rather than kept unscanned.
    max_seconds_per_file: float = Field(default=5.0, gt=0)

    def model_post_init(self, __context) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"pii.kinds: unknown kind(s) {sorted(unknown)}; allowed: {list(KINDS)}")
