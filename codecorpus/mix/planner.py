"""The mix planner: from a target model's mix, a token budget and an epoch cap, per-language and
per-source keep rates and epochs, computed from token counts measured on the corpus.

Policy (StarCoder2 §4): every row of the mix is seen the same number of times, at most ``epoch_cap``;
a capped language keeps at most its cap. Caps are given in GB of raw text at The Stack v2's scale, so
they are scaled to this corpus: a cap keeps the share of the code tokens it had in StarCoder2,

    cap_tokens = cap_gb * 1e9 / bytes_per_token * (corpus code tokens / StarCoder2 code tokens)

where bytes_per_token is measured on this corpus. The inputs are aggregates (one row per language),
so the plan itself is small driver-side arithmetic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

# Documents name their source in their `source` column; the mix rows name StarCoder2's sources (Table 4).
# A source named like its row (jupyter_structured, documentation, ...) needs no entry here. Repository
# documents are the code: the language rows plan them.
SOURCE_ROWS = {"pull_request": "pull_requests", "issue": "issues", "jupyter_script": "jupyter_scripts",
               "llvm_ir": "intermediate_representation"}
CODE_SOURCE = "repo_context"
PLAN_COLUMNS = ["kind", "name", "files", "bytes", "available_tokens", "cap_tokens", "keep_rate",
                "unique_tokens", "epochs", "planned_tokens", "weight", "status", "reference_tokens"]
UNITS = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


@dataclass(frozen=True)
class Mix:
    model: str
    code_source: str
    code_unique_tokens_b: float
    epoch_cap: float
    caps_gb: dict[str, float]
    languages: tuple[str, ...]
    sources: tuple[tuple[str, float | None], ...]   # (name, StarCoder2's unique tokens in billions)


def mix_row(source: str) -> str:
    """The mix row of a documents' ``source`` value."""
    return SOURCE_ROWS.get(source, source)


def by_source(plan: pd.DataFrame, column: str) -> dict[str, float]:
    """``column`` of the plan keyed by the documents' ``source`` values: each source row under its name
    and the source values mapped to it, and repository documents (the code) under the largest value of
    the language rows (the policy gives every kept language the same epochs)."""
    rows = plan[plan["kind"] == "source"].set_index("name")[column].astype(float).to_dict()
    out = {alias: rows[row] for alias, row in SOURCE_ROWS.items() if row in rows} | rows
    languages = plan.loc[plan["kind"] == "language", column]
    return out | {CODE_SOURCE: float(languages.max()) if len(languages) else 0.0}


def load_mix(name: str) -> Mix:
    """A shipped mix (3b, 7b, 15b) or a path to a mix YAML of the same shape."""
    if Path(name).suffix in (".yaml", ".yml"):
        text = Path(name).read_text()
    else:
        shipped = resources.files("codecorpus").joinpath("data", "mixes", f"{name.lower()}.yaml")
        if not shipped.is_file():
            raise ValueError(f"unknown mix {name!r}: use 3b, 7b, 15b or a path to a mix .yaml")
        text = shipped.read_text()
    data = yaml.safe_load(text)
    return Mix(str(data["model"]), data["code_source"], float(data["code_unique_tokens_b"]),
               float(data["epoch_cap"]), {k: float(v) for k, v in data.get("caps_gb", {}).items()},
               tuple(data["languages"]), tuple((s["name"], float(s["tokens_b"])) for s in data.get("sources", [])))


def parse_tokens(text: str | int | float) -> float:
    """'3.7T' -> 3.7e12; also K, M, B (or G) and plain numbers."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMBGT]?)\s*", str(text).upper())
    if not match:
        raise ValueError(f"cannot read token count {text!r}: write e.g. 3.7T, 500B, 20M or 1000000")
    return float(match.group(1)) * UNITS[match.group(2)]


def human(n: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.3g}"


def plan_mix(mix: Mix, languages: pd.DataFrame, sources: dict[str, float], target_tokens: float | None,
             epoch_cap: float | None = None) -> pd.DataFrame:
    """``languages``: columns language, files, bytes, tokens (kept files of the run).
    ``sources``: measured tokens of the non-code sources present in the run, by mix row name (absent
    ones count 0; a measured source outside the mix is excluded, like a language).
    Returns one row per language of the corpus or the mix, and one per non-code source."""
    cap = epoch_cap or mix.epoch_cap
    stats = languages.set_index("language")
    bytes_per_token = stats["bytes"].sum() / max(stats["tokens"].sum(), 1)
    in_mix = set(mix.languages)
    code_tokens = stats.loc[[l for l in stats.index if l in in_mix], "tokens"].sum()
    scale = code_tokens / (mix.code_unique_tokens_b * 1e9)
    rows = []
    for language in sorted(set(stats.index) | in_mix):
        files, size, available = (stats.loc[language, c] if language in stats.index else 0
                                  for c in ("files", "bytes", "tokens"))
        cap_gb = mix.caps_gb.get(language)
        cap_tokens = cap_gb * 1e9 / bytes_per_token * scale if cap_gb is not None else None
        keep = 0.0 if language not in in_mix else min(1.0, cap_tokens / available) if cap_tokens and available else 1.0
        status = ("excluded" if language not in in_mix else "missing" if not available
                  else "capped" if keep < 1 else "kept")
        rows.append(["language", language, int(files), int(size), int(available), cap_tokens, keep,
                     available * keep, status, None])
    for name, reference_b in mix.sources:
        available = sources.get(name, 0)
        rows.append(["source", name, None, None, int(available), None, 1.0, available,
                     "kept" if available else "missing", None if reference_b is None else reference_b * 1e9])
    for name in sorted(set(sources) - {name for name, _ in mix.sources}):
        rows.append(["source", name, None, None, int(sources[name]), None, 0.0, 0.0, "excluded", None])
    plan = pd.DataFrame(rows, columns=["kind", "name", "files", "bytes", "available_tokens", "cap_tokens",
                                       "keep_rate", "unique_tokens", "status", "reference_tokens"])
    unique = plan["unique_tokens"].sum()
    wanted = target_tokens / unique if target_tokens and unique else 1.0
    epochs = min(wanted, cap)
    plan["epochs"] = [epochs if u > 0 else 0.0 for u in plan["unique_tokens"]]
    plan["planned_tokens"] = plan["unique_tokens"] * plan["epochs"]
    plan["weight"] = plan["unique_tokens"] / unique if unique else 0.0
    upsampled = (plan["status"] == "kept") & (plan["epochs"] > 1)
    plan.loc[upsampled, "status"] = "upsampled"
    return plan[PLAN_COLUMNS]


def plan_report(plan: pd.DataFrame, mix: Mix, target_tokens: float | None, epoch_cap: float | None = None) -> str:
    """What a reader wants from a plan: the totals, and what is upsampled, capped, excluded or missing."""
    cap = epoch_cap or mix.epoch_cap
    unique, planned = plan["unique_tokens"].sum(), plan["planned_tokens"].sum()
    epochs = plan["epochs"].max() if len(plan) else 0
    lines = [f"Mix {mix.model} ({mix.code_source} + {len(mix.sources)} non-code sources), epoch cap {cap:g}",
             f"unique tokens after the mix: {human(unique)}; planned: {human(planned)} "
             f"at {epochs:.2f} epochs" + (f" for a target of {human(target_tokens)}" if target_tokens else "")]
    if target_tokens:
        need = target_tokens / cap
        if need > unique:
            lines.append(f"SHORT OF DATA: {human(target_tokens)} tokens at <= {cap:g} epochs needs {human(need)} "
                         f"unique tokens; this corpus has {human(unique)}, {need / max(unique, 1):,.0f}x too "
                         f"little. StarCoder2's {mix.model} mix sums to "
                         f"{human(sum(b for _, b in mix.sources) * 1e9 + mix.code_unique_tokens_b * 1e9)} unique.")
        else:
            lines.append(f"enough data: {human(target_tokens)} tokens need {human(need)} unique at {cap:g} epochs")
    for status, title in (("upsampled", "upsampled"), ("capped", "capped (downsampled to the scaled cap)"),
                          ("missing", "in the mix but absent from this corpus"),
                          ("excluded", "in the corpus but not in the mix (dropped)")):
        names = plan.loc[plan["status"] == status, "name"].tolist()
        if names:
            lines.append(f"{title}: {len(names)}: {', '.join(names[:25])}{' ...' if len(names) > 25 else ''}")
    shown = plan[plan["available_tokens"] > 0].sort_values(["unique_tokens", "available_tokens", "name"],
                                                           ascending=[False, False, True])
    lines += ["", f"{'kind':8} {'name':28} {'available':>10} {'keep':>6} {'unique':>10} {'epochs':>7} "
              f"{'weight':>7}  status"]
    for row in shown.itertuples():
        lines.append(f"{row.kind:8} {row.name[:28]:28} {human(row.available_tokens):>10} {row.keep_rate:6.2f} "
                     f"{human(row.unique_tokens):>10} {row.epochs:7.2f} {row.weight:7.2%}  {row.status}")
    return "\n".join(lines)
