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
  codecorpus plan --model 7b --tokens 3.7T  # what a 7B run would need
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
    if config.sources.stack_v2 and not args.offline:
        report = _stack_v2_access(config)
        if not report.ok:
            print("S3 access check FAILED:\n  " + "\n  ".join(report.problems), file=sys.stderr)
            return 1
        print(f"S3 access: {report.fetched} of {report.sampled} sampled blobs fetched, decoded and checked "
              f"({report.seconds_per_blob:.3f}s per blob one at a time, gzip ratio {report.compression:.2f})")
    return 0


def _stack_v2_access(config: RunConfig):
    from codecorpus.s3.preflight import check_access
    src = config.sources.stack_v2
    return check_access(src.index, src.bucket, src.key_template, config.s3, config.ingest.max_file_bytes)


def cmd_estimate(args) -> int:
    from codecorpus.s3.preflight import estimate
    from codecorpus.sources.stack_v2 import index_totals
    config = load_config(args.config)
    if not config.sources.stack_v2:
        raise ValueError(f"{args.config} has no sources.stack_v2: there is nothing to fetch from S3")
    report = _stack_v2_access(config)
    if not report.ok:
        print("S3 access check FAILED:\n  " + "\n  ".join(report.problems), file=sys.stderr)
        return 1
    spark = _spark(config)
    totals = index_totals(spark, config.sources.stack_v2, config.s3, config.ingest.max_file_bytes)
    tasks = args.tasks or spark.sparkContext.defaultParallelism
    result = estimate(totals["files"], totals["blobs"], totals["bytes"], report, config.s3, tasks)
    print("\n".join(result.lines()))
    print(f"(time assumes {tasks} concurrent tasks x s3.concurrency {config.s3.concurrency} blobs in flight, "
          f"each as slow as the sampled {report.seconds_per_blob:.3f}s per blob; throttling lowers it)")
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
    elif args.kind == "kaggle":
        from codecorpus.format.kaggle import Rejected, render_kaggle
        try:   # one file alone has no Meta Kaggle tables: the script without a dataset header
            outputs, rejected = [("kaggle_scripts", render_kaggle(content, {}, config.kaggle, None)[0])], None
        except Rejected as exc:
            outputs, rejected = [], exc
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


def _run_config(run_dir: str, config_path: str | None = None) -> RunConfig:
    """A config for reading ``run_dir``: defaults, or the settings (Spark, S3) of the config at ``config_path``."""
    from codecorpus.config import parse_config
    if config_path:
        return load_config(config_path).model_copy(update={"run_dir": run_dir})
    return parse_config({"run_dir": run_dir})


def cmd_stats(args) -> int:
    from codecorpus.inspect import stage_stats
    runner = _runner(_run_config(args.run, args.config))
    print(stage_stats(runner))
    return 0


def cmd_why(args) -> int:
    from codecorpus.inspect import why
    runner = _runner(_run_config(args.run, args.config))
    print(why(runner, args.file))
    return 0


def cmd_card(args) -> int:
    from codecorpus.release.build import build_release
    from codecorpus.release.config import ReleaseConfig
    config = _run_config(args.run, args.config)
    out = args.out or f"{config.run_dir.rstrip('/')}/release"
    build_release(_spark(config), args.run, out, ReleaseConfig(version=args.version), config.s3)
    print(f"release written to {out}: README.md (card), stats.json, figures/, data/, ATTRIBUTION.md")
    return 0


def cmd_plan(args) -> int:
    from codecorpus.mix.planner import load_mix, parse_tokens, plan_mix, plan_report
    runner = _runner(_run_config(args.run, args.config))
    path = runner.table_path("mix", "plan")
    if not runner.manifest("mix"):
        raise FileNotFoundError(f"run {args.run} has no mix stage yet: `codecorpus run` (or `codecorpus stage mix "
                                "CONFIG`) measures the token counts the planner needs")
    measured = runner.store.read_table(path).where("available_tokens > 0").toPandas()   # one row per language
    stats = measured[measured["kind"] == "language"].rename(columns={"name": "language", "available_tokens": "tokens"})
    sources = measured[measured["kind"] == "source"].set_index("name")["available_tokens"].to_dict()
    mix, target = load_mix(args.model), parse_tokens(args.tokens) if args.tokens else None
    plan = plan_mix(mix, stats, sources, target, args.epoch_cap)
    print(plan_report(plan, mix, target, args.epoch_cap))
    if args.out:
        plan.to_csv(args.out, index=False)
        print(f"\nplan table written to {args.out}")
    return 0


def cmd_megatron(args) -> int:
    from codecorpus.format.megatron import export_megatron
    from codecorpus.mix.stage import saved_tokenizer
    runner = _runner(_run_config(args.run, args.config))
    if not runner.manifest("pack"):
        raise FileNotFoundError(f"run {args.run} has no pack stage yet: run `codecorpus stage pack CONFIG` first")
    from codecorpus.format.tokenizer import tokenizer_from_json
    tokenizer = saved_tokenizer(runner.spark, runner.config)   # a trained one; else ids are stored as int32
    vocab = tokenizer_from_json(tokenizer).get_vocab_size() if tokenizer else 2**31 - 1
    out = args.out or f"{runner.root}/megatron"
    sequences = runner.store.read_table(runner.table_path("pack", "sequences"))
    shards = export_megatron(sequences, out, args.shard_sequences, vocab).orderBy("seq_len", "shard")
    for row in shards.toLocalIterator():   # one small row per shard
        print(f"  {row.prefix}.bin/.idx: {row.sequences} sequences, {row.tokens} tokens")
    print(f"Megatron indexed datasets written under {out}/<seq_len>/")
    return 0


def cmd_instruct(args) -> int:
    from pathlib import Path
    from codecorpus.instruct import workflow
    config = load_config(args.config)
    if args.step == "generate":     # no Spark: plain HTTP from this machine
        import tempfile
        from codecorpus.instruct.client import generate
        paths = workflow.InstructPaths(config.run_dir, config.instruct.dir)
        out = workflow.generate_dir(args.out or paths.generate)
        with tempfile.TemporaryDirectory(prefix="codecorpus-requests-") as copies:   # of requests on S3
            files = workflow.request_files(args.requests or paths.requests, config.s3, Path(copies))
            report = generate(files, out, config.instruct.generate)
    else:
        wf = workflow.Workflow(_spark(config), config)
        if args.step == "seeds":
            report = wf.sample_seeds()
        elif args.step == "requests":
            report = wf.write_requests()
        else:
            responses = args.responses or [f"{wf.paths.generate}/responses.jsonl"]
            report = workflow.build_dataset(wf, responses)
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0


def cmd_publish(args) -> int:
    from codecorpus.s3.tables import publish_run
    config = load_config(args.config)
    runner = _runner(config)
    for table, manifest in publish_run(runner, args.to, config.s3).items():
        print(f"{args.to.rstrip('/')}/{table}: {len(manifest['objects'])} files, version {manifest['version']}")
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
        Stages run in pipeline order (ingest, annotate, filter, dedup, pii, mix, format, pack). A stage whose
        manifest matches the current config, inputs and code is skipped; a stage killed midway
        resumes from its last committed shard. Without CONFIG the built-in default sample corpus is
        used and the run lives in runs/sample. Ends with a summary: files in, files kept, drops by
        rule, and where the output tables are. Pull requests and issues: add `events` and
        `conversations` to `stages` and set sources.gharchive (GH Archive *.json.gz files); see
        docs/pull-requests-issues.md.""")
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
    p.add_argument("--config", metavar="YAML", help="a run config whose `s3` and Spark settings to use (for an s3:// run)")
    p.set_defaults(func=cmd_why)

    p = command("stats", "Rows in and out of every stage of a run, and drops per rule.", """\
        Read from the stage manifests; nothing is recomputed.""")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.add_argument("--config", metavar="YAML", help="a run config whose `s3` and Spark settings to use (for an s3:// run)")
    p.set_defaults(func=cmd_stats)

    p = command("card", "Write a run's release: data shards, dataset card, figures, stats, attribution.", """\
        Reads whatever stages of the run finished (absent ones are named in the card) and writes
        README.md (a Hugging Face dataset card), stats.json, figures/*.png, data/ (Parquet shards per
        language, and documents) and ATTRIBUTION.md. Regenerating from the same run gives the same card.""")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.add_argument("--config", metavar="YAML", help="a run config whose `s3` and Spark settings to use (for an s3:// run)")
    p.add_argument("--out", metavar="DIR", help="release folder, local, hdfs:// or s3:// (default: DIR/release)")
    p.add_argument("--version", default="0.1.0", help="release version recorded in the card")
    p.set_defaults(func=cmd_card)

    p = command("plan", "Plan a target model's data mix from a run's measured token counts.", """\
        Reads the token counts per language that the run's mix stage measured (before any mix was
        applied) and computes, for MODEL's mix (lang_configs/mixes), each language's and source's keep
        rate (StarCoder2's caps scaled to this corpus), epochs (the same for every row, at most the
        epoch cap) and weight; then says what is upsampled, capped, missing or excluded, and how much
        unique data a real run of TOKENS would need. To apply a plan, set mix.model and
        mix.target_tokens in the config and run the mix stage. Example:
          codecorpus plan --model 7b --tokens 3.7T --run runs/sample""")
    p.add_argument("--model", required=True, help="3b, 7b, 15b, or a mix .yaml of the same shape")
    p.add_argument("--tokens", help="training token budget, e.g. 3.7T, 500B (default: one epoch)")
    p.add_argument("--epoch-cap", type=float, help="most passes over any data (default: the mix's, 5)")
    p.add_argument("--run", default="runs/sample", metavar="DIR", help="run directory (default: runs/sample)")
    p.add_argument("--config", metavar="YAML", help="a run config whose `s3` and Spark settings to use (for an s3:// run)")
    p.add_argument("--out", metavar="CSV", help="also write the plan table as CSV")
    p.set_defaults(func=cmd_plan)

    p = command("megatron", "Export a run's packed sequences as Megatron-LM indexed datasets (.bin/.idx).", """\
        Writes OUT/<seq_len>/shard-NNNNN.bin and .idx from the pack stage's sequences, in stream
        order, on the executors (OUT may be a local path or an fsspec URL such as s3://). Token ids are
        uint16 when the vocabulary fits. Point Megatron-LM's --data-path at OUT/4096/shard-00000 etc.;
        each packed sequence is one Megatron document. The format is described in docs/mixes.md.""")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory (run_dir of the config)")
    p.add_argument("--config", metavar="YAML", help="a run config whose `s3` and Spark settings to use (for an s3:// run)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: DIR/megatron)")
    p.add_argument("--shard-sequences", type=int, default=10_000, help="sequences per .bin/.idx pair")
    p.set_defaults(func=cmd_megatron)

    p = command("instruct", "OSS-Instruct: instruction data for code from a finished run's kept files.", """\
        Four steps, each reading the previous one's output under RUN_DIR/instruct (or instruct.dir):
          seeds     sample seeds from the last stage's files table: per-language quotas
                    (instruct.seeds.quotas x scale), mode lines (Magicoder) or functions (SelfCodeAlign);
                    writes seeds/, ledger/seeds/, seeds.json (quota shortfalls)
          requests  one OpenAI batch line per seed (chat completions; model, temperature, max_tokens
                    from the prompt's token count with instruct.requests.tokenizer, a per-request seed);
                    writes requests/part-*.jsonl, usable with the OpenAI Batch API and vLLM run_batch
          generate  send them to instruct.generate.base_url (vLLM, TGI, OpenAI...) with bounded
                    concurrency, rate limit, retries; resumable (answered ids are never re-sent);
                    the key comes from $OPENAI_API_KEY (instruct.generate.api_key_env);
                    writes generate/responses.jsonl, errors.jsonl, generate.json (tokens, cost)
          build     parse replies, exact dedup, decontaminate (exact + TF-IDF similarity to HumanEval),
                    optional sandboxed execution of Python solutions with their tests; writes dataset/
                    (Parquet), dataset_jsonl/, ledger/build/, report.json, report.md
        Example:
          codecorpus run my.yaml && codecorpus instruct seeds my.yaml && codecorpus instruct requests my.yaml
          OPENAI_API_KEY=... codecorpus instruct generate my.yaml && codecorpus instruct build my.yaml
        docs/instruct.md has the config keys, formats and how to use a real vLLM server.""")
    p.add_argument("step", choices=["seeds", "requests", "generate", "build"], metavar="STEP",
                   help="seeds, requests, generate or build")
    p.add_argument("config", help="YAML run config of a finished run (its run_dir and instruct section)")
    p.add_argument("--requests", metavar="DIR", help="generate: folder of request .jsonl files (default: the requests "
                   "step's; an s3:// folder is downloaded first)")
    p.add_argument("--out", metavar="DIR", help="generate: local output folder (default: RUN_DIR/instruct/generate; "
                   "required when RUN_DIR is on S3)")
    p.add_argument("--responses", nargs="+", metavar="FILE",
                   help="build: batch output .jsonl files, local or Hadoop paths (default: generate's responses.jsonl; "
                        "OpenAI Batch or vLLM run_batch output files work too)")
    p.set_defaults(func=cmd_instruct)
    p = command("render", "Print the training documents one notebook or source file becomes.", f"""\
        Runs the notebooks, ir or kaggle stage's own code on one local file, without Spark, to see the formats:
          codecorpus render notebook analysis.ipynb   # {tokens.JUPYTER_SCRIPT} and, for Python, {tokens.JUPYTER_START}
          codecorpus render ir solution.c             # code{tokens.CODE_TO_INTERMEDIATE}IR or the reverse
          codecorpus render kaggle 123456789.ipynb    # a Kaggle script (no dataset header: no Meta Kaggle tables)
        The ir kind compiles with clang (C: .c, C++: other extensions) or rustc (.rs); the size or
        performance build and the direction are drawn from (seed, FILE) as the stage draws them from
        (seed, file_id). A file the stage would drop prints its ledger rule and reason and exits 1.
        The stages themselves run on a run's files table: add `notebooks`, `ir` or `docs` to the config's
        `stages` (they are not run by default) and see docs/other-sources.md.""")
    p.add_argument("kind", choices=["notebook", "ir", "kaggle"])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--config", help="YAML run config whose notebooks/ir/kaggle sections and seed apply")
    p.set_defaults(func=cmd_render)

    keys = "\n".join(config_keys(RunConfig))
    p = command("validate", "Check a config without running anything.", """\
        Errors name the key, the bad value and what is allowed. With sources.stack_v2, also checks
        S3 access on a few blobs of the index (credentials, region, bucket, permissions) and says in
        words what is wrong. Top-level keys:""", "\n" + keys)
    p.add_argument("config", nargs="?", help="YAML run config (default: the built-in defaults)")
    p.add_argument("--show", action="store_true", help="print the full config with every default filled in")
    p.add_argument("--offline", action="store_true",
                   help="skip the S3 access check that runs when the config has sources.stack_v2")
    p.set_defaults(func=cmd_validate)

    p = command("publish", "Copy a run's latest tables and its ledger to S3 through boto3 (no hadoop-aws).", """\
        Each table goes to URI/<table>/ as Parquet under a fresh version prefix, then a _manifest.json
        naming those files replaces the previous one: readers (codecorpus.s3.tables.read_table) never
        see a half-written table. S3 settings come from the config's `s3` section.""")
    p.add_argument("config", help="YAML run config (its run_dir is the run to publish)")
    p.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX")
    p.set_defaults(func=cmd_publish)

    p = command("estimate", "Before a big Stack v2 fetch: blobs, bytes, S3 requests, cost and time.", """\
        Checks access on a few blobs (as validate does), timing them, then counts the index's files,
        distinct blobs and bytes with Spark, and prices the fetch at S3 list prices (GETs and transfer
        out to the internet; in-region EC2 pays no transfer). Time assumes --tasks concurrent Spark
        tasks (default: Spark's default parallelism), each with s3.concurrency blobs in flight.""")
    p.add_argument("config", help="YAML run config with sources.stack_v2")
    p.add_argument("--tasks", type=int, help="concurrent Spark tasks on the cluster that will fetch")
    p.set_defaults(func=cmd_estimate)
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
