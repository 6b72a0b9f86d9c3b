"""The ``conversations`` config section: StarCoder2's pull-request and issue rules."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from codecorpus.format.issues import IssueConfig
from codecorpus.format.pull_requests import PullRequestConfig
from codecorpus.sources.commits import ContentsConfig


class ConversationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pull_requests: PullRequestConfig = Field(default_factory=PullRequestConfig,
                                             description="StarCoder2's pull-request rules (reference §1.2)")
    contents: ContentsConfig = Field(default_factory=ContentsConfig, description=(
        "where pull requests' base and head files come from: the files table, git clones or Software Heritage"))
    issues: IssueConfig = Field(default_factory=IssueConfig, description="StarCoder2's issue rules (reference §1.3)")
