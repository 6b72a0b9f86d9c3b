"""The `codecorpus` command: build a corpus, inspect a run, answer "where did my file go?"."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap

from pydantic import BaseModel

from codecorpus import __version__, tokens
from codecorpus.config import STAGE_ORDER, ConfigError, RunConfig, load_config

DESCRIPTION = """\
Build StarCoder2-style pretraining corpora for code LLMs on Apache Spark.

A run is described by one YAML config (see `codecorpus validate --help` for its keys; every key has
StarCoder2's published value as its default) and lives in one run directory (`run_dir`), which holds
every table, the rejects ledger and one manifest per stage. Commands that read a run take --run DIR.

Typical session:
  codecorpus sample --size small            # build (or find cached) the built-in sample corpus
  codecorpus run                            # every stage on the default sample, local Spark
  codecorpus run my.yaml                    # your config; re-running skips stages already done
  codecorpus stats --run runs/sample        # rows per stage, drops per rule
  codecorpus why pypi/six-1.16.0/six.py --run runs/sample
"""


def _spark(config: RunConfig):
    from codecorpus.session import get_spark
    conf = {"spark.ui.showConsoleProgress": "true", **config.spark_conf}
    return get_spark(config.spark_master, conf)


def _runner(config: RunConfig, progress=print):
    from codecorpus.pipeline import STAGES
    from codecorpus.runner import Runner
    return Runner(config, _spark(config), STAGES, progress)


def cmd_run(args) -> int:
    config = load_config(args.config)
    runner = _runner(config)
    runner.run()
    print_summary(runner)
    return 0


def cmd_stage(args) -> int:
    config = load_config(args.config)
    runner = _runner(config)
    runner.run(only=[args.name])
    print_summary(runner)
    return 0


def cmd_validate(args) -> int:
    config = load_config(args.config)
    print(f"{args.config or 'defaults'}: valid. Stages: {', '.join(config.stages)}; run directory: {config.run_dir}")
    if args.show:
        print(json.dumps(config.model_dump(mode="json"), indent=2))
    return 0


def cmd_sample(args) -> int:
    from codecorpus.sources.sample import build_sample
    path = build_sample(args.size, refresh=args.refresh)
    print(f"sample corpus ({args.size}): {path}")
    print(f"manifest: {path / 'MANIFEST.md'}")
    return 0


def cmd_render(args) -> int:
    """Print the training documents one file becomes, without Spark: a quick look at the formats."""
    config = load_config(args.config) if args.config else RunConfig()
    content = open(args.file, encoding="utf-8", errors="replace").read()
    if args.kind == "notebook":
        from codecorpus.format.notebooks import render_notebook
        docs, rejected = render_notebook(content, config.notebooks)
        outputs = [(source, text) for source, _, text in docs]
    else:
        from codecorpus.format.llvm_ir import Rejected, ir_pair
        language = {".c": "C", ".rs": "Rust"}.get(args.file[args.file.rfind("."):].lower(), "C++")
        try:
            text, _, level, direction = ir_pair(args.file, language, content, config.seed, config.ir)
            outputs, rejected = [(f"llvm_ir ({language}, {level}, {direction})", text)], None
        except Rejected as exc:
            outputs, rejected = [], exc
    if rejected is not None:
        print(f"{args.file}: dropped by rule {rejected.rule} ({rejected.value}): {rejected}", file=sys.stderr)
        return 1
    for source, text in outputs:
        print(f"===== {source}, {len(text)} characters\n{text}")
    return 0


def _run_config(run_dir: str) -> RunConfig:
    from codecorpus.config import parse_config
    return parse_config({"run_dir": run_dir})


def cmd_stats(args) -> int:
    from codecorpus.inspect import stage_stats
    runner = _runner(_run_config(args.run))
    print(stage_stats(runner))
    return 0


def cmd_why(args) -> int:
    from codecorpus.inspect import why
    runner = _runner(_run_config(args.run))
    print(why(runner, args.file))
    return 0


def cmd_card(args) -> int:
    from codecorpus.release.build import build_release
    from codecorpus.release.config import ReleaseConfig
    runner = _runner(_run_config(args.run))
    out = args.out or f"{runner.root}/release"
    build_release(runner.spark, args.run, out, ReleaseConfig(version=args.version))
    print(f"release written to {out}: README.md (card), stats.json, figures/, data/, ATTRIBUTION.md")
    return 0


def print_summary(runner) -> None:
    from codecorpus.inspect import run_summary
    print(run_summary(runner))


def config_keys(model, prefix: str = "", depth: int = 0) -> list[str]:
    """One line per config key (two levels deep), with its default and description."""
    lines = []
    for name, field in model.model_fields.items():
        nested = field.annotation if isinstance(field.annotation, type) else None
        if nested is not None and hasattr(nested, "model_fields") and depth < 1:
            lines.append(f"  {prefix}{name}: {field.description or ''}")
            lines += config_keys(nested, f"{prefix}{name}.", depth + 1)
        else:
            default = field.get_default(call_default_factory=True)
            shown = "(section: see --show)" if isinstance(default, BaseModel) else repr(default)
            lines.append(f"  {prefix}{name} = {shown}" + (f"  # {field.description}" if field.description else ""))
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codecorpus", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codecorpus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, details: str, extra: str = ""):
        p = sub.add_parser(name, help=help_, description=f"{help_}\n\n{textwrap.dedent(details)}{extra}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        return p

    p = command("run", "Run every enabled stage of a config (resumable).", """\
        Stages run in pipeline order (ingest, annotate, filter, dedup, pii, format). A stage whose
        manifest matches the current config, inputs and code is skipped; a stage killed midway
        resumes from its last committed shard. Without CONFIG the built-in default sample corpus is
        used and the run lives in runs/sample. Ends with a summary: files in, files kept, drops by
        rule, and where the output tables are.""")
    p.add_argument("config", nargs="?", help="YAML run config (default: the built-in sample, every stage)")
    p.set_defaults(func=cmd_run)

    p = command("stage", "Run one stage of a config (its inputs must exist in the run).", f"""\
        NAME is one of: {', '.join(STAGE_ORDER)}. Re-tuning a filter threshold, for example, only
        needs `codecorpus stage filter CONFIG` followed by the stages after it.""")
    p.add_argument("name", choices=STAGE_ORDER, metavar="NAME")
    p.add_argument("config", help="YAML run config")
    p.set_defaults(func=cmd_stage)

    p = command("sample", "Build or refresh the built-in sample corpus of real open-source repositories.", """\
        Repositories come from the package registries (Debian, PyPI, npm) at pinned versions, with
        their real license files, and are cached under $CODECORPUS_CACHE (default ~/.cache/codecorpus):
        only the first build needs the network. Sizes: small (tests), default, large (~4x, benchmarks).""")
    p.add_argument("--size", choices=["small", "default", "large"], default="default")
    p.add_argument("--refresh", action="store_true", help="rebuild from the download cache")
    p.set_defaults(func=cmd_sample)

    p = command("why", "Where did this file go? Follows a file through every stage of a run.", """\
        FILE is REPO/PATH, e.g. pypi/six-1.16.0/six.py. Prints, stage by stage, whether the file
        was kept, and for a dropped file the stage, the rule and the value that decided it.""")
    p.add_argument("file", metavar="REPO/PATH")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.set_defaults(func=cmd_why)

    p = command("stats", "Rows in and out of every stage of a run, and drops per rule.", """\
        Read from the stage manifests; nothing is recomputed.""")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.set_defaults(func=cmd_stats)

    p = command("card", "Write a run's release: data shards, dataset card, figures, stats, attribution.", """\
        Reads whatever stages of the run finished (absent ones are named in the card) and writes
        README.md (a Hugging Face dataset card), stats.json, figures/*.png, data/ (Parquet shards per
        language, and documents) and ATTRIBUTION.md. Regenerating from the same run gives the same card.""")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.add_argument("--out", metavar="DIR", help="release folder (default: DIR/release)")
    p.add_argument("--version", default="0.1.0", help="release version recorded in the card")
    p.set_defaults(func=cmd_card)

    p = command("render", "Print the training documents one notebook or source file becomes.", f"""\
        Runs the notebooks or ir stage's own code on one local file, without Spark, to see the formats:
          codecorpus render notebook analysis.ipynb   # {tokens.JUPYTER_SCRIPT} and, for Python, {tokens.JUPYTER_START}
          codecorpus render ir solution.c             # code{tokens.CODE_TO_INTERMEDIATE}IR or the reverse
        The ir kind compiles with clang (C: .c, C++: other extensions) or rustc (.rs); the size or
        performance build and the direction are drawn from (seed, FILE) as the stage draws them from
        (seed, file_id). A file the stage would drop prints its ledger rule and reason and exits 1.
        The stages themselves run on a run's files table: add `notebooks`, `ir` or `docs` to the config's
        `stages` (they are not run by default) and see docs/other-sources.md.""")
    p.add_argument("kind", choices=["notebook", "ir"])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--config", help="YAML run config whose notebooks/ir sections and seed apply")
    p.set_defaults(func=cmd_render)

    keys = "\n".join(config_keys(RunConfig))
    p = command("validate", "Check a config without running anything.", """\
        Errors name the key, the bad value and what is allowed. Top-level keys:""", "\n" + keys)
    p.add_argument("config", nargs="?", help="YAML run config (default: the built-in defaults)")
    p.add_argument("--show", action="store_true", help="print the full config with every default filled in")
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"codecorpus: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"codecorpus: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
