"""The run config: one YAML file, validated on load. Defaults are StarCoder2's published values, so a
config only states what differs. Errors name the key, the bad value and what is allowed."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codecorpus.annotate.language import LanguageConfig
from codecorpus.annotate.license import LicenseConfig
from codecorpus.annotate.natural_language import NaturalLanguageConfig
from codecorpus.annotate.signals import SignalConfig
from codecorpus.dedup.config import DedupConfig
from codecorpus.filters.config import FilterConfig
from codecorpus.filters.malware import MalwareConfig
from codecorpus.format.conversation_config import ConversationsConfig
from codecorpus.format.tokenizer import TokenizerConfig
from codecorpus.instruct.config import InstructConfig
from codecorpus.mix.stage import MixConfig
from codecorpus.format.docs_sites import DocsConfig
from codecorpus.format.llvm_ir import IrConfig
from codecorpus.format.notebooks import NotebooksConfig
from codecorpus.format.text_sources import TextConfig
from codecorpus.format.kaggle import KaggleConfig
from codecorpus.pii.config import PiiConfig
from codecorpus.s3.config import S3Config
from codecorpus.sources.stack_v2 import StackV2Config

STAGE_ORDER = ("ingest", "annotate", "events", "conversations", "filter", "malware", "dedup", "pii", "notebooks",
               "ir", "docs", "text", "kaggle", "mix", "format", "pack")
# The stages a config runs by default. events and conversations need GitHub event data (sources.gharchive);
# notebooks, ir, docs, text and kaggle (other sources' documents) and malware (ClamAV, needs a signature
# database) run when named.
REPO_STAGES = ("ingest", "annotate", "filter", "dedup", "pii", "mix", "format", "pack")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourcesConfig(Section):
    sample: Literal["small", "default", "large"] | None = Field(
        None, description="Use the built-in sample corpus of this size (built on first use, then cached).")
    local: list[str] = Field(default_factory=list, description=(
        "Folders of repositories: each entry `repo_depth` levels down is one repository "
        "(a folder, a git repository, or a .tar/.tar.gz/.tgz/.zip archive)."))
    repo_depth: int = Field(2, ge=1, le=4, description="2 for <owner>/<repo> layouts, 1 for flat ones.")
    gharchive: list[str] = Field(default_factory=list, description=(
        "GitHub event data in the GH Archive layout for the events stage: hourly *.json.gz files, folders "
        "of them or globs (any Hadoop path: local, hdfs://, s3a://)."))
    stack_v2: StackV2Config | None = Field(None, description=(
        "The Stack v2: an index of files whose contents are fetched from S3 (docs/s3.md)."))


class IngestConfig(Section):
    max_file_bytes: int = Field(10 * 1024 * 1024, gt=0, description="The Stack v2 skips files of 10 MiB or more.")
    shards: int = Field(8, ge=1, description="Repositories are read in this many shards, each committed on its own.")


class FormatConfig(Section):
    metadata_rate: float = Field(0.5, ge=0, le=1, description="Share of repositories rendered with their name and file paths.")
    fim_rate: float = Field(0.5, ge=0, le=1, description="Share of repositories that are FIM candidates.")
    fragment_fim_rate: float = Field(0.5, ge=0, le=1, description="Share of files of a FIM repository transformed.")
    fim_spm_rate: float = Field(0.5, ge=0, le=1, description="Share of FIM files in SPM rather than PSM order.")
    fim_mode: Literal["char", "syntax"] = Field("char", description=(
        "char: StarCoder2's random character split. syntax: the middle is a whole tree-sitter node "
        "(statement, function, class) where a grammar parses the file, else char."))
    fim_parse_time_limit_s: float = Field(1.0, gt=0, description="Per-file parse time limit of syntax FIM.")
    max_doc_chars: int = Field(4_000_000, ge=1000, description=(
        "No document is longer: a larger repository is split on file boundaries, a huge file on lines."))


class PackConfig(Section):
    seq_lengths: list[int] = Field(default_factory=lambda: [4096, 16384], description=(
        "Training sequence lengths in tokens: StarCoder2 trains at 4K, then 16K."))
    streams: int = Field(8, ge=1, description=(
        "Documents are packed in this many independent streams (one Parquet shard and .bin/.idx pair each)."))
    megatron: bool = Field(True, description="Also write Megatron-style .bin/.idx files per stream.")


class AnnotateConfig(Section):
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    signals: SignalConfig = Field(default_factory=SignalConfig)
    license: LicenseConfig = Field(default_factory=LicenseConfig)
    natural_language: NaturalLanguageConfig = Field(default_factory=NaturalLanguageConfig)


class RunConfig(Section):
    run_dir: str = Field("runs/sample", description=(
        "Where tables, ledger and manifests live: any Hadoop path, or s3:// (docs/s3.md)."))
    seed: int = Field(42, description="Seeds every random choice, together with each unit's id.")
    stages: list[str] = Field(default_factory=lambda: list(REPO_STAGES), description=(
        "Stages to run, in order; add events and conversations (after annotate) for pull requests and "
        "issues, malware (after filter) for a ClamAV scan, notebooks, ir and docs (after pii) for other "
        "sources' documents, text and kaggle for the user's text datasets and Kaggle notebooks."))
    files_per_table: int = Field(4, ge=1, description="Each table is written as this many Parquet files.")
    spark_master: str | None = Field(None, description="Spark master when not launched by spark-submit; default local[*].")
    spark_conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")
    sources: SourcesConfig = Field(default_factory=SourcesConfig, description="Where repositories come from.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Reading repositories.")
    annotate: AnnotateConfig = Field(default_factory=AnnotateConfig, description="Labels and quality signals.")
    filter: FilterConfig = Field(default_factory=FilterConfig, description="StarCoder2's filters and license policy.")
    malware: MalwareConfig = Field(default_factory=MalwareConfig, description=(
        "ClamAV malware scan (the malware stage, off unless named in stages; docs/malware.md)."))
    dedup: DedupConfig = Field(default_factory=DedupConfig, description="Exact and MinHash near-dedup.")
    pii: PiiConfig = Field(default_factory=PiiConfig, description="PII and secrets redaction.")
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig, description="The tokenizer.")
    mix: MixConfig = Field(default_factory=MixConfig, description="Language mix by target model.")
    format: FormatConfig = Field(default_factory=FormatConfig, description="Repo-context documents and FIM.")
    pack: PackConfig = Field(default_factory=PackConfig, description="Packed training sequences.")
    instruct: InstructConfig = Field(default_factory=InstructConfig,
                                     description="OSS-Instruct data from the kept files (`codecorpus instruct`).")
    conversations: ConversationsConfig = Field(default_factory=ConversationsConfig,
                                               description="Pull-request and issue documents from events.")
    s3: S3Config = Field(default_factory=S3Config, description=(
        "How to reach S3: endpoint, region, profile, anonymous, requester pays, concurrency, retries."))
    notebooks: NotebooksConfig = Field(default_factory=NotebooksConfig, description="Jupyter notebook documents.")
    ir: IrConfig = Field(default_factory=IrConfig, description="Source/LLVM IR pairs.")
    docs: DocsConfig = Field(default_factory=DocsConfig, description="Documentation sites.")
    text: TextConfig = Field(default_factory=TextConfig, description=(
        "Text datasets (Parquet, JSONL) in StarCoder2's Q&A, arXiv, Wikipedia, OpenWebMath and LHQ templates."))
    kaggle: KaggleConfig = Field(default_factory=KaggleConfig, description="Kaggle notebooks (Meta Kaggle Code).")

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, stages: list[str]) -> list[str]:
        for name in stages:
            if name not in STAGE_ORDER:
                raise ValueError(f"unknown stage {name!r}; allowed: {', '.join(STAGE_ORDER)}")
        order = [STAGE_ORDER.index(s) for s in stages]
        if order != sorted(order) or len(set(stages)) != len(stages):
            raise ValueError(f"stages must be unique and in pipeline order: {', '.join(STAGE_ORDER)}")
        return stages

    def section_hash(self, *sections: str) -> str:
        """Hash of the config values that decide a stage's output."""
        data = self.model_dump(mode="json")
        picked = {name: data[name] for name in sorted(sections)}
        if "filter" in picked:   # the opt-out list is tracked by the runner (opt-out reuse), not hashed here
            picked["filter"] = {k: v for k, v in picked["filter"].items() if k != "opt_out"}
        picked["seed"] = self.seed
        return hashlib.sha1(json.dumps(picked, sort_keys=True).encode()).hexdigest()


class ConfigError(ValueError):
    """A config that cannot be used; the message says which key, what value, and what is allowed."""


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (check its spelling; `codecorpus validate --help` lists the keys)"
    return f"{key}: got {error.get('input')!r}: {error['msg']}"


def parse_config(data: dict[str, Any] | None, origin: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{origin} is not valid:\n  {problems}") from None


def load_config(path: str | Path | None) -> RunConfig:
    """Load a YAML config; ``None`` gives the defaults (the sample corpus, every stage)."""
    if path is None:
        return parse_config({"sources": {"sample": "default"}}, "defaults")
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    return parse_config(data, str(path))
