"""The license matcher on a labelled set of real license texts: the license files of every installed
package that declares an SPDX License-Expression, Debian's common-licenses, and variants built from
them (two licenses in one file, a header-only notice, a README with no license)."""
from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from codecorpus.annotate.license import (dep5_ids, get_license_type, license_file_ids, match_license_text,
                                         spdx_header_ids)
from tests.test_filters_helpers import debian_file, site_file

# Debian common-licenses file name -> SPDX family
DEBIAN = {"Apache-2.0": "Apache-2.0", "BSD": "BSD-3-Clause", "CC0-1.0": "CC0-1.0", "GFDL-1.2": "GFDL-1.2",
          "GFDL-1.3": "GFDL-1.3", "GPL-2": "GPL-2.0", "GPL-3": "GPL-3.0", "LGPL-2": "LGPL-2.0",
          "LGPL-2.1": "LGPL-2.1", "LGPL-3": "LGPL-3.0", "MPL-1.1": "MPL-1.1", "MPL-2.0": "MPL-2.0",
          "Artistic": "Artistic-1.0", "GPL-1": "GPL-1.0"}


def family(ids) -> set[str]:
    """Compare ids without the GPL-family -only/-or-later suffix (scancode's choice varies by notice)."""
    return {re.sub(r"-(only|or-later)$", "", i) for i in ids}


def expression_ids(expression: str) -> set[str]:
    return {t for t in re.split(r"[\s()]+", expression) if t and t not in ("AND", "OR", "WITH")}


def labelled_set() -> list[tuple[str, str, set[str]]]:
    """(name, text, expected SPDX ids) for real texts available in this environment."""
    cases = []
    for dist in md.distributions():
        expression = dist.metadata.get("License-Expression")
        files = [f for f in (dist.files or []) if re.search(r"licen[cs]e|copying", str(f), re.I)
                 and not str(f).endswith((".py", ".pyc"))]
        if not expression or not files:
            continue
        texts = []
        for f in files:
            try:
                texts.append(Path(dist.locate_file(f)).read_text(errors="replace"))
            except (OSError, IsADirectoryError):
                pass
        if texts:
            cases.append((f"pypi:{dist.metadata['Name']}", "\n\n".join(texts), expression_ids(expression)))
    common = _debian_common_licenses()
    for name, spdx in DEBIAN.items():
        if name in common:
            cases.append((f"debian:{name}", common[name].read_text(errors="replace"), {spdx}))
    # variants: two licenses in one file, a header-only notice, nothing at all
    if "MIT" in common or True:
        mit = site_file("six-1.17.0.dist-info/LICENSE") if (site_file.__module__ and
                                                            _exists("six-1.17.0.dist-info/LICENSE")) else None
    apache_header = _head_comment(site_file("pyspark/sql/dataframe.py"))
    cases.append(("variant:apache-header-only", apache_header, {"Apache-2.0"}))
    if mit is not None and "Apache-2.0" in common:
        cases.append(("variant:mit+apache", mit.read_text() + "\n\n" + common["Apache-2.0"].read_text(),
                      {"MIT", "Apache-2.0"}))
    cases.append(("variant:readme-no-license", site_file("flask/sansio/README.md").read_text(), set()))
    return cases


def _exists(rel: str) -> bool:
    from tests.test_filters_helpers import SITE
    return (SITE / rel).is_file()


def _head_comment(path: Path) -> str:
    lines = path.read_text().split("\n")
    return "\n".join(line for line in lines[:20] if line.startswith("#"))


def _debian_common_licenses() -> dict[str, Path]:
    if shutil.which("dpkg") is None:
        return {}
    listing = subprocess.run(["dpkg", "-L", "base-files"], capture_output=True, text=True).stdout.splitlines()
    return {Path(p).name: Path(p) for p in listing if "/common-licenses/" in p and Path(p).is_file()}


def evaluate(cases):
    """(license_type accuracy, id-family accuracy, misses)."""
    type_ok = ids_ok = 0
    misses = []
    for name, text, expected in cases:
        got = set(match_license_text(text))
        want_type = get_license_type(None, expected)
        got_type = get_license_type(None, got)
        type_ok += got_type == want_type
        ids_ok += family(got) == family(expected)
        if family(got) != family(expected):
            misses.append((name, sorted(expected), sorted(got)))
    return type_ok / len(cases), ids_ok / len(cases), misses


def test_license_type_accuracy_on_real_texts():
    cases = labelled_set()
    assert len(cases) >= 40
    type_accuracy, id_accuracy, misses = evaluate(cases)
    assert type_accuracy >= 0.95, misses
    assert id_accuracy >= 0.85, misses


def test_no_non_permissive_text_is_called_permissive():
    # the error that matters for the policy: a copyleft text typed permissive
    for name, text, expected in labelled_set():
        if get_license_type(None, expected) == "non_permissive":
            assert get_license_type(None, match_license_text(text)) == "non_permissive", name


def test_spdx_header_and_unknown_license_file():
    assert spdx_header_ids("// SPDX-License-Identifier: (MIT OR Apache-2.0) WITH LLVM-exception\n") == \
        ["Apache-2.0", "MIT"]
    readme = site_file("flask/sansio/README.md").read_text()
    assert license_file_ids("README.md", readme) == []
    # a dedicated LICENSE file with text no rule knows is an unknown reference (non_permissive alone)
    ids = license_file_ids("LICENSE", readme)
    assert ids == ["LicenseRef-scancode-unknown-license-reference"]
    assert get_license_type(None, ids) == "non_permissive"
    assert get_license_type(None, ids + ["MIT"]) == "permissive"


@pytest.mark.parametrize("gha,detected,expected", [
    ("MIT", ["GPL-3.0-only"], "permissive"), ("GPL-3.0", [], "non_permissive"),
    (None, [], "no_license"), ("NOASSERTION", [], "non_permissive"),
    (None, ["LicenseRef-scancode-generic-cla"], "no_license"), (None, ["MIT", "GPL-2.0-only"], "non_permissive"),
])
def test_stack_v2_license_type_rule(gha, detected, expected):
    assert get_license_type(gha, detected) == expected


def test_license_references_and_debian_copyright_fields():
    # a README that names its license in a section, as scancode reads it ("## License ... MIT")
    readme = site_file("mdit_py_plugins/container/README.md").read_text()
    assert match_license_text(readme) == [] and license_file_ids("README.md", readme) == ["MIT"]
    # Debian machine-readable copyright files: License: fields, "+" = or-later, exceptions left out
    tar = debian_file("tar", "copyright").read_text()
    assert dep5_ids(tar) == ["GPL-2.0-or-later", "GPL-3.0-or-later", "LGPL-3.0-or-later"]
    openssl = debian_file("openssl", "copyright").read_text()
    assert {"Apache-2.0", "Artistic-1.0-Perl", "GPL-1.0-or-later"} <= set(license_file_ids("copyright", openssl))
    # a README that mentions no license stays without one
    assert license_file_ids("README.md", site_file("flask/sansio/README.md").read_text()) == []
