"""Contracts that hold the project together: config validation, schemas and their docs, special tokens."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codecorpus import tables, tokens
from codecorpus.annotate.signals import SIGNAL_FIELDS
from codecorpus.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_starcoder2s():
    config = parse_config({})
    assert config.ingest.max_file_bytes == 10 * 1024 * 1024
    assert (config.dedup.ngram, config.dedup.num_perm, config.dedup.threshold) == (5, 250, 0.7)
    assert config.dedup.lsh_params() == (25, 10)
    assert config.filter.license.keep == ["permissive", "no_license"]
    assert (config.format.metadata_rate, config.format.fim_rate) == (0.5, 0.5)


@pytest.mark.parametrize("data, message", [
    ({"seed": "abc"}, "seed: got 'abc'"),
    ({"dedup": {"threshold": 1.5}}, "dedup.threshold: got 1.5"),
    ({"stages": ["ingest", "sort"]}, "unknown stage 'sort'; allowed: ingest, annotate"),
    ({"stages": ["format", "ingest"]}, "pipeline order"),
    ({"filtr": {}}, "filtr: unknown key"),
    ({"filter": {"rules": {"max_line_lenght": 5}}}, "filter.rules.max_line_lenght: unknown key"),
])
def test_config_errors_name_the_key_the_value_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(data)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)


def test_every_schema_loads_and_docs_are_current():
    for name in tables.table_names():
        assert len(tables.spark_schema(name).fields) > 0
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_table_docs.py"), "--check"])
    assert check.returncode == 0, "docs/tables.md is stale: run scripts/gen_table_docs.py"


def test_files_schema_holds_every_signal():
    files = {f.name: f.dataType.simpleString() for f in tables.spark_schema("files").fields}
    for name, kind, _ in SIGNAL_FIELDS:
        assert files.get(name) == tables.parse_type(kind).simpleString(), name


def test_special_tokens():
    assert len(tokens.FORMAT_TOKENS) == 34 and len(set(tokens.ALL_SPECIAL_TOKENS)) == 38
    assert tokens.PII_TAGS == ("<NAME>", "<EMAIL>", "<KEY>", "<PASSWORD>")


def _code_strings(path: Path) -> list[str]:
    """String literals of a module, docstrings excepted."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_module_spells_a_special_token_itself():
    spelled = re.compile("|".join(re.escape(t) for t in tokens.ALL_SPECIAL_TOKENS))
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "codecorpus").rglob("*.py")
                 if p.name != "tokens.py" and any(spelled.search(s) for s in _code_strings(p))]
    assert offenders == []
