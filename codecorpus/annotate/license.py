"""License detection per file and per repository, and The Stack v2's license_type rule.

What it does, as The Stack v2 did (reference §1.1):
- license files are found by the go-license-detector name regex; their text goes through a matcher
  that names SPDX ids (our own phrase matcher, in place of scancode-toolkit: see docs/filters.md for its
  accuracy on a labelled set of real license texts);
- ``SPDX-License-Identifier:`` headers name the license of the file that carries them;
- a license found in a directory applies to every file below it (a salted join, so a repository of
  100k files does not land on one task);
- ``license_type`` follows The Stack v2's ``get_license_type`` with the Blue Oak Council list
  (codecorpus/data/permissive_licenses.txt) as the permissive list.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# go-license-detector's license file names (as The Stack v2 used them), matched on the base name.
LICENSE_FILE_NAMES = [
    r"li[cs]en[cs]e(s?)", r"legal", r"copy(left|right|ing)", r"unlicense", r"[al]?gpl([-_ v]?)(\d\.?\d?)?",
    r"bsd(l?)", r"mit(x?)", r"apache", r"artistic", r"copying(v?)(\d?)", r"disclaimer", r"eupl", r"gfdl",
    r"[cm]pl", r"cc0", r"al([-_ v]?)(\d\.?\d)?", r"about", r"notice", r"readme", r"guidelines",
]
LICENSE_FILE_RE = re.compile(rf"^(|.*[-_. ])({'|'.join(LICENSE_FILE_NAMES)})(|[-_. ].*)$", re.IGNORECASE)
# Names that are licenses by intent (not README/NOTICE/ABOUT...): unmatched text there is an unknown license.
DEDICATED_LICENSE_RE = re.compile(r"^(|.*[-_. ])(li[cs]en[cs]e(s?)|copying(v?)(\d?)|unlicense|copyright)"
                                  r"(|[-_. ].*)$", re.IGNORECASE)

UNKNOWN_REFERENCE = "LicenseRef-scancode-unknown-license-reference"
# Amendments that do not change a license type (The Stack v2's non_license_whitelist).
NON_LICENSE_IDS = frozenset({
    "LicenseRef-scancode-dco-1.1", "LicenseRef-scancode-generic-cla", "LicenseRef-scancode-google-cla",
    "LicenseRef-scancode-jetty-ccla-1.1", "LicenseRef-scancode-newton-king-cla",
    "LicenseRef-scancode-generic-exception", "LicenseRef-scancode-generic-export-compliance",
    "LicenseRef-scancode-generic-tos", "LicenseRef-scancode-generic-trademark",
    "LicenseRef-scancode-warranty-disclaimer",
})

SPDX_HEADER_RE = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+\-() :]+)")
SPDX_OPERATORS = {"AND", "OR", "WITH", "and", "or", "with"}


class LicenseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extra_permissive: list[str] = Field(
        ["LicenseRef-scancode-public-domain", "LicenseRef-scancode-public-domain-disclaimer"],
        description="ids counted permissive besides the Blue Oak list (The Stack v2 added ScanCode's "
                    "Public Domain category; its full Permissive category is not public)")
    header_lines: int = Field(30, description="lines searched for an SPDX-License-Identifier header")
    max_license_chars: int = Field(200_000, description="longer license files are matched on their head")
    salts: int = Field(8, description="salts of the directory-propagation join (The Stack v2 used 8)")


@lru_cache(maxsize=1)
def blue_oak_ids() -> frozenset[str]:
    text = resources.files("codecorpus.data").joinpath("permissive_licenses.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def permissive_ids(cfg: LicenseConfig | None = None) -> frozenset[str]:
    cfg = cfg or LicenseConfig()
    return blue_oak_ids() | frozenset(cfg.extra_permissive)


# ---------- the text matcher ----------

def normalize(text: str) -> str:
    """Lowercase words separated by single spaces: comment marks, punctuation and wrapping vanish."""
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _n(phrase: str) -> str:
    return normalize(phrase).strip()


# (SPDX id, phrases that must all appear, phrases that must not appear); first-class texts and
# well-known notices. Checked in order; several ids may match one text (dual licensing, bundles).
TEXT_RULES: list[tuple[str, list[str], list[str]]] = [
    ("Apache-2.0", ["apache license", "version 2.0"], []),
    ("Apache-2.0", ["licensed under the apache license, version 2.0"], []),
    ("MIT", ["permission is hereby granted, free of charge, to any person obtaining a copy",
             "the above copyright notice and this permission notice shall be included"], []),
    ("MIT-0", ["permission is hereby granted, free of charge, to any person obtaining a copy"],
     ["the above copyright notice and this permission notice shall be included"]),
    ("MIT", ["licensed under the mit license"], []),
    ("MIT", ["released under the mit license"], []),
    ("MIT-CMU", ["permission to use, copy, modify and distribute this software and its documentation "
                 "for any purpose and without fee is hereby granted"], []),
    ("ISC", ["permission to use, copy, modify, and/or distribute this software for any purpose with or "
             "without fee is hereby granted, provided that the above copyright notice"], []),
    ("ISC", ["permission to use, copy, modify, and distribute this software for any purpose with or "
             "without fee is hereby granted, provided that the above copyright notice"], []),
    ("PostgreSQL", ["permission to use, copy, modify, and distribute this software and its documentation for "
                    "any purpose, without fee, and without a written agreement is hereby granted"], []),
    ("0BSD", ["permission to use, copy, modify, and/or distribute this software for any purpose with or "
              "without fee is hereby granted"], ["provided that the above copyright notice"]),
    ("BSD-4-Clause", ["redistribution and use in source and binary forms", "all advertising materials "
                      "mentioning features or use of this software"], []),
    ("BSD-3-Clause", ["redistribution and use in source and binary forms",
                      "to endorse or promote products derived from this software"], ["all advertising materials"]),
    ("BSD-2-Clause", ["redistribution and use in source and binary forms",
                      "redistributions of source code must retain the above copyright notice"],
     ["to endorse or promote products", "all advertising materials"]),
    ("Zlib", ["altered source versions must be plainly marked as such"], []),
    ("BSL-1.0", ["boost software license - version 1.0"], []),
    ("Unlicense", ["this is free and unencumbered software released into the public domain"], []),
    ("CC0-1.0", ["cc0 1.0 universal"], []),
    ("CC0-1.0", ["creative commons legal code", "cc0"], []),
    ("PSF-2.0", ["python software foundation license version 2"], []),
    ("PSF-2.0", ["psf license agreement"], []),
    ("WTFPL", ["do what the fuck you want to public license"], []),
    # GPL family: by title line or by the standard notice, never by a mere mention of another license
    ("AGPL-3.0", ["gnu affero general public license version 3"], []),
    ("AGPL-3.0", ["gnu affero general public license as published by the free software foundation"], []),
    ("LGPL-3.0", ["gnu lesser general public license version 3"], []),
    ("LGPL-3.0", ["gnu lesser general public license as published by the free software foundation either version 3"], []),
    ("LGPL-2.1", ["gnu lesser general public license version 2.1"], []),
    ("LGPL-2.1", ["gnu lesser general public license as published by the free software foundation either version 2.1"], []),
    ("LGPL-2.0", ["gnu library general public license version 2"], []),
    ("LGPL-2.0", ["gnu library general public license as published by the free software foundation either version 2"], []),
    ("GPL-3.0", ["gnu general public license version 3"], []),
    ("GPL-3.0", ["gnu general public license as published by the free software foundation either version 3"], []),
    ("GPL-2.0", ["gnu general public license version 2"], []),
    ("GPL-2.0", ["gnu general public license as published by the free software foundation either version 2 of"], []),
    ("GPL-2.0", ["gnu general public license as published by the free software foundation version 2 of"], []),
    ("GPL-1.0", ["gnu general public license version 1"], []),
    ("CNRI-Python", ["cnri license agreement"], []),
    ("GFDL-1.3", ["gnu free documentation license", "version 1.3"], []),
    ("GFDL-1.2", ["gnu free documentation license", "version 1.2"], ["version 1.3"]),
    ("MPL-2.0", ["mozilla public license version 2.0"], []),
    ("MPL-2.0", ["mozilla public license, v. 2.0"], []),
    ("MPL-1.1", ["mozilla public license version 1.1"], []),
    ("EPL-2.0", ["eclipse public license", "2.0"], []),
    ("EPL-1.0", ["eclipse public license", "v1.0"], []),
    ("Artistic-2.0", ["the artistic license 2.0"], []),
    ("Artistic-1.0", ["the \"artistic license\""], []),
    ("CC-BY-SA-4.0", ["creative commons attribution-sharealike 4.0"], []),
    ("CC-BY-4.0", ["creative commons attribution 4.0 international"], ["sharealike", "noncommercial"]),
    ("CC-BY-NC-4.0", ["creative commons attribution-noncommercial 4.0"], []),
    ("BUSL-1.1", ["business source license 1.1"], []),
    ("SSPL-1.0", ["server side public license"], []),
]
_COMPILED = [(spdx, [_n(p) for p in need], [_n(p) for p in avoid]) for spdx, need, avoid in TEXT_RULES]
# GPL family: "or (at your option) any later version" makes the -or-later id
_VERSIONED = {"GPL-1.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1", "LGPL-3.0", "AGPL-3.0",
              "GFDL-1.2", "GFDL-1.3"}


# Sentences that name other licenses without granting them (masked before matching).
MASKS = [_n("\"Secondary License\" means either the GNU General Public License, Version 2.0, the GNU Lesser "
            "General Public License, Version 2.1, the GNU Affero General Public License, Version 3.0, or any "
            "later versions of those licenses"),
         _n("the ordinary GNU General Public License, version 2, instead of to this License")]


def match_license_text(text: str) -> list[str]:
    """SPDX ids whose text or standard notice appears in ``text`` (sorted, distinct)."""
    norm = normalize(text)
    for mask in MASKS:
        norm = norm.replace(mask, " ")
    found = set()
    for spdx, need, avoid in _COMPILED:
        if all(p in norm for p in need) and not any(p in norm for p in avoid):
            found.add(spdx)
    if "MIT" in found:
        found.discard("MIT-0")
    if "ISC" in found:
        found.discard("0BSD")
    later = " any later version " in norm
    return sorted((f"{i}-or-later" if later else f"{i}-only") if i in _VERSIONED else i for i in found)


# License references, as scancode counts them in license-named files (READMEs, NOTICEs): a license
# named as the project's, e.g. "## License  [MIT](LICENSE)", "BSD 3-Clause license", "It's Apache 2
# licensed", the Apache NOTICE line. Regexes over normalize()d text (lowercase words, single spaces).
_LIC = r"licen[cs]e[ds]?"
REFERENCE_RULES: list[tuple[str, re.Pattern]] = [(spdx, re.compile(pattern)) for spdx, pattern in [
    ("MIT", rf" (mit( open source)? {_LIC}|{_LIC} mit|{_LIC} under the mit|expat {_LIC}) "),
    ("Apache-2.0", rf" (apache( software)? {_LIC}( version| v)? 2( 0)?|apache 2( 0)? {_LIC}"
                   rf"|{_LIC} under the apache 2( 0)?|{_LIC} apache 2( 0)?) "),
    ("Apache-2.0", r" this product includes software developed (at|by) the apache software foundation "),
    ("BSD-3-Clause", rf" ((bsd 3 clause|3 clause bsd|new bsd|modified bsd|revised bsd) {_LIC}|{_LIC} bsd 3 clause) "),
    ("BSD-2-Clause", rf" ((bsd 2 clause|2 clause bsd|simplified bsd) {_LIC}|{_LIC} bsd 2 clause) "),
    ("ISC", rf" (isc {_LIC}|{_LIC} isc) "),
    ("MPL-2.0", rf" (mpl 2 0|mozilla public {_LIC} 2 0) "),
    ("GPL-3.0-or-later", r" (gplv3|gpl v3|gpl 3 0|gpl 3) or later "),
    ("GPL-3.0-only", rf" (gplv3|gpl v3|gpl 3 0) {_LIC} "),
    ("GPL-2.0-only", rf" (gplv2|gpl v2|gpl 2 0) {_LIC} "),
    ("LGPL-3.0-only", rf" (lgplv3|lgpl v3|lgpl 3 0) {_LIC} "),
    ("LGPL-2.1-only", rf" (lgplv2 1|lgpl v2 1|lgpl 2 1) {_LIC} "),
    ("AGPL-3.0-only", rf" (agplv3|agpl v3|agpl 3 0) {_LIC} "),
    ("Unlicense", r" (the unlicense|unlicense license) "),
]]
# "BSD license" with no clause count: scancode reads BSD-3-Clause; used when no BSD id was found
UNNUMBERED_BSD = re.compile(rf" bsd( style)? {_LIC} ")
# Debian machine-readable copyright files (DEP-5): ``License:`` short names to SPDX ids.
DEP5_FORMAT_RE = re.compile(r"^Format:.*copyright-format", re.MULTILINE | re.IGNORECASE)
DEP5_LICENSE_RE = re.compile(r"^License:[ \t]*(\S.*)$", re.MULTILINE)
DEP5_SHORT = {"expat": "MIT", "bsd-3": "BSD-3-Clause", "boost-1.0": "BSL-1.0", "public-domain":
              "LicenseRef-scancode-public-domain", "python": "Python-2.0", "artistic": "Artistic-1.0-Perl",
              "zlib/libpng": "Zlib"}


def dep5_ids(text: str) -> list[str]:
    """SPDX ids of the ``License:`` fields of a Debian machine-readable copyright file; short names
    that are not SPDX ids (e.g. BSD-3-clause-zend) give nothing here, their text is matched instead."""
    if not DEP5_FORMAT_RE.search(text[:2000]):
        return []
    known = {i.lower(): i for i in blue_oak_ids() | {rule[0] for rule in TEXT_RULES}}
    ids = set()
    for field in DEP5_LICENSE_RE.findall(text):
        for name in re.split(r",? +(?:and|or) +|, *", re.sub(r" with .*$", "", field.strip(), flags=re.I), flags=re.I):
            name = name.strip().lower()
            later = name.endswith("+")
            name = name.rstrip("+")
            if re.fullmatch(r"(a|l)?gpl-?\d(\.\d)?", name):   # GPL-2, LGPL-2.1, GPL3
                family, version = re.fullmatch(r"((?:a|l)?gpl)-?(\d(?:\.\d)?)", name).groups()
                version = version if "." in version else f"{version}.0"
                ids.add(f"{family.upper()}-{version}-{'or-later' if later else 'only'}")
            elif name in DEP5_SHORT or name in known:
                ids.add(DEP5_SHORT.get(name) or known[name])
    return sorted(ids)


def reference_ids(text: str) -> list[str]:
    """Licenses a license-named file refers to by name (REFERENCE_RULES) or lists in DEP-5 fields."""
    norm = normalize(text)
    return sorted({spdx for spdx, pattern in REFERENCE_RULES if pattern.search(norm)} | set(dep5_ids(text)))


def spdx_header_ids(text: str, lines: int = 30) -> list[str]:
    """Ids named by ``SPDX-License-Identifier:`` lines in the head of a file (operators dropped)."""
    head = "\n".join(text.split("\n", lines)[:lines])
    ids = set()
    for expression in SPDX_HEADER_RE.findall(head):
        tokens = expression.replace("(", " ").replace(")", " ").split()
        skip_next = False
        for token in tokens:
            if skip_next:            # the exception after WITH is not a license of its own
                skip_next = False
                continue
            if token in ("WITH", "with"):
                skip_next = True
            elif token not in SPDX_OPERATORS:
                ids.add(token)
    return sorted(ids)


def is_license_file(path: str) -> bool:
    return bool(LICENSE_FILE_RE.match(path.rsplit("/", 1)[-1]))


def license_file_ids(path: str, text: str, cfg: LicenseConfig | None = None) -> list[str]:
    """Licenses a license-named file declares: license texts and notices, references by name, DEP-5
    fields and SPDX-License-Identifier lines anywhere in it; a dedicated LICENSE/COPYING file that
    names nothing gives the unknown reference (as scancode does), a README that names nothing none."""
    cfg = cfg or LicenseConfig()
    head = text[:cfg.max_license_chars]
    ids = set(match_license_text(head)) | set(reference_ids(head)) | set(spdx_header_ids(head, 1 << 30))
    if not any(i.startswith("BSD-") for i in ids) and UNNUMBERED_BSD.search(normalize(head)):
        ids.add("BSD-3-Clause")
    ids = sorted(ids)
    if not ids and DEDICATED_LICENSE_RE.match(path.rsplit("/", 1)[-1]) and text.strip():
        return [UNKNOWN_REFERENCE]
    return ids


# ---------- The Stack v2's license_type ----------

def get_license_type(gha_license_id: str | None, detected: Iterable[str] | None,
                     permissive: frozenset[str] | None = None) -> str:
    """permissive, no_license or non_permissive: The Stack v2's rule (reference §1.1), in Python."""
    permissive = permissive if permissive is not None else permissive_ids()
    detected = set(detected or ())
    if gha_license_id in permissive:
        return "permissive"
    if gha_license_id is not None and gha_license_id != "NOASSERTION":
        return "non_permissive"
    if not detected:
        return "no_license" if gha_license_id is None else "non_permissive"
    allowed = detected & permissive
    rest = detected - allowed - NON_LICENSE_IDS
    if allowed:
        rest.discard(UNKNOWN_REFERENCE)   # the license is known, just referenced from another file
    if allowed and not rest:
        return "permissive"
    return "no_license" if not rest else "non_permissive"


def license_type_column(gha: Column, detected: Column, permissive: frozenset[str]) -> Column:
    """The same rule as a Spark expression (no Python UDF)."""
    perm = F.array(*[F.lit(i) for i in sorted(permissive)])
    extras = F.array(*[F.lit(i) for i in sorted(NON_LICENSE_IDS)])
    ids = F.coalesce(detected, F.array().cast("array<string>"))
    allowed = F.filter(ids, lambda x: F.array_contains(perm, x))
    rest = F.filter(ids, lambda x: ~F.array_contains(perm, x) & ~F.array_contains(extras, x))
    rest = F.when(F.size(allowed) > 0, F.array_remove(rest, UNKNOWN_REFERENCE)).otherwise(rest)
    return (F.when(F.array_contains(perm, gha), "permissive")
            .when(gha.isNotNull() & (gha != "NOASSERTION"), "non_permissive")
            .when(F.size(ids) == 0, F.when(gha.isNull(), "no_license").otherwise("non_permissive"))
            .when((F.size(allowed) > 0) & (F.size(rest) == 0), "permissive")
            .when(F.size(rest) == 0, "no_license")
            .otherwise("non_permissive"))


# ---------- Spark ----------

def _detect_batch(batch: pa.RecordBatch, cfg: LicenseConfig) -> pa.RecordBatch:
    paths = batch.column("path").to_pylist()
    texts = batch.column("content").to_pylist()
    own, directory = [], []
    for path, text in zip(paths, texts):
        text = text or ""
        own.append(spdx_header_ids(text, cfg.header_lines))
        directory.append(license_file_ids(path, text, cfg) if is_license_file(path) else [])
    return pa.RecordBatch.from_arrays(
        [batch.column("file_id"), pa.array(own, pa.list_(pa.string())), pa.array(directory, pa.list_(pa.string()))],
        names=["file_id", "own_licenses", "dir_licenses"])


def file_license_ids(files: DataFrame, cfg: LicenseConfig | None = None) -> DataFrame:
    """(file_id, own_licenses, dir_licenses): SPDX headers, and the licenses a license file declares."""
    cfg = cfg or LicenseConfig()

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield _detect_batch(batch, cfg)

    return files.select("file_id", "path", "content").mapInArrow(
        run, "file_id string, own_licenses array<string>, dir_licenses array<string>")


def detect_licenses(files: DataFrame, repos: DataFrame | None = None,
                    cfg: LicenseConfig | None = None) -> tuple[DataFrame, DataFrame | None]:
    """Files with ``detected_licenses`` and ``license_type``; repos with ``license_files`` and
    ``detected_licenses`` (every license its license files declare).

    Needs files' file_id, repo_name, path, content, gha_license_id (null when no hosting metadata)."""
    cfg = cfg or LicenseConfig()
    found = file_license_ids(files, cfg)
    located = files.select("file_id", "repo_name", "path").join(found, "file_id")
    dirs = (located.where(F.size("dir_licenses") > 0)
            .withColumn("base_path", F.regexp_extract("path", r"^(.*/)", 1))
            .groupBy("repo_name", "base_path")
            .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("dir_licenses")))).alias("ids"),
                 F.collect_list("path").alias("paths")))
    # salted join: a big repository's files spread over `salts` keys, each licensed dir copied to all
    salt = (F.abs(F.xxhash64("file_id")) % cfg.salts).cast("int")
    left = located.withColumn("salt", salt).alias("f")
    right = dirs.withColumn("salt", F.explode(F.sequence(F.lit(0), F.lit(cfg.salts - 1)))).alias("d")
    inherited = (left.join(right, (F.col("f.salt") == F.col("d.salt")) & (F.col("f.repo_name") == F.col("d.repo_name"))
                           & F.col("f.path").startswith(F.col("d.base_path")), "left")
                 .groupBy("f.file_id")
                 .agg(F.first("f.own_licenses").alias("own"),
                      F.flatten(F.collect_list(F.coalesce("d.ids", F.array().cast("array<string>")))).alias("up")))
    ids = F.array_sort(F.array_distinct(F.concat("own", "up")))
    labels = inherited.select("file_id", ids.alias("detected_licenses"))
    out = (files.drop("detected_licenses", "license_type").join(labels, "file_id", "left")
           .withColumn("detected_licenses", F.coalesce("detected_licenses", F.array().cast("array<string>"))))
    out = out.withColumn("license_type", license_type_column(F.col("gha_license_id"), F.col("detected_licenses"),
                                                             permissive_ids(cfg)))
    out = out.select(*files.columns, *[c for c in ("detected_licenses", "license_type") if c not in files.columns])
    if repos is None:
        return out, None
    per_repo = (dirs.groupBy("repo_name")
                .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("ids")))).alias("detected_licenses"),
                     F.array_sort(F.flatten(F.collect_list("paths"))).alias("license_files")))
    repos_out = repos.drop("detected_licenses", "license_files").join(per_repo, "repo_name", "left")
    extra = [c for c in ("license_files", "detected_licenses") if c not in repos.columns]
    return out, repos_out.select(*repos.columns, *extra)
