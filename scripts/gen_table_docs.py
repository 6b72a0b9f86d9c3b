"""Write docs/tables.md from schemas/*.json, the single source of every table's columns.

    python scripts/gen_table_docs.py            # regenerate
    python scripts/gen_table_docs.py --check    # exit 1 when docs/tables.md is stale
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def render() -> str:
    lines = ["# Tables", "", "Generated from `schemas/*.json` by `scripts/gen_table_docs.py`; do not edit.", ""]
    for path in sorted((ROOT / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        lines += [f"## {schema['name']}", "", schema["description"], "",
                  "| column | type | nullable | description |", "|---|---|---|---|"]
        for field in schema["fields"]:
            lines.append(f"| `{field['name']}` | {field['type']} | {'yes' if field['nullable'] else 'no'} "
                         f"| {field['description']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    target = ROOT / "docs" / "tables.md"
    text = render()
    if args.check:
        return 0 if target.is_file() and target.read_text() == text else 1
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
