"""Settings of a release: its name and version, shard sizes, and the texts a card cannot compute."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReleaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("codecorpus-release", description="Dataset name (the Hub repository's name).")
    pretty_name: str = Field("codecorpus release", description="Title of the card.")
    version: str = Field("0.1.0", description="Release version, recorded in the card and stats.json.")
    shard_bytes: int = Field(256 * 1024 * 1024, gt=0,
                             description="Target bytes of content per Parquet shard (per language for files).")
    top_languages: int = Field(12, ge=1, description="Languages shown by name in figures; the rest are 'other'.")
    opt_out: str = Field(
        "Open an issue on the project's tracker listing the accounts, organisations or `owner/repo` entries "
        "to remove; they are added to the opt-out list (`filter.opt_out`) and removed from the next release.",
        description="How a repository owner asks to be removed (a sentence of the card).")
    homepage: str | None = Field(None, description="Where the release is published, when known.")
