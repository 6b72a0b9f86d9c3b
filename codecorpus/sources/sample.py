"""The built-in sample corpus: real open-source repositories fetched by pinned name and version from the
package registries this project can reach (PyPI source distributions, npm tarballs, Debian packages), laid
out as ``<dir>/repos/<owner>/<repo>/...`` with a ``manifest.json`` and a ``MANIFEST.md`` describing every
repository (registry, version, download, declared license, license files, bytes, languages).

The pinned list lives in ``codecorpus/data/sample_sources.yaml``; each entry names the smallest size that
holds it, so ``small`` is inside ``default`` which is inside ``large``. Downloads are cached under
``$CODECORPUS_CACHE`` (or ``~/.cache/codecorpus``): once cached, a build or a refresh is offline. A build
happens in a temporary directory renamed into place, so a killed build leaves nothing half-made.
"""
from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import yaml

SIZES = ("small", "default", "large")
# Bump when the layout or the manifest changes, so cached corpora built by older code are rebuilt.
SAMPLE_FORMAT = 1
SOURCES_FILE = Path(__file__).resolve().parent.parent / "data" / "sample_sources.yaml"
PYPI_SIMPLE = "https://pypi.org/simple/{name}/"
NPM_TARBALL = "https://registry.npmjs.org/{name}/-/{base}-{version}.tgz"
# Large binaries (static libraries, bundled executables) carry no code a corpus would hold.
BINARY_JUNK_BYTES = 1 << 20
LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|copyright|notice|unlicense|patents)([._-].*)?$", re.I)
COPYLEFT = re.compile(r"\b(A?GPL|LGPL|MPL|EPL|CDDL|OSL|EUPL|CECILL|copyleft|GNU)", re.I)
PERMISSIVE = re.compile(r"(MIT|BSD|Apache|ISC|PSF|Python|Zlib|Unlicense|0BSD|Expat|Artistic|Boost|BSL|"
                        r"public.domain|CC0|WTFPL|X11|HPND|PostgreSQL|Ruby|PHP|OpenSSL|curl)", re.I)


@dataclass(frozen=True)
class SourceEntry:
    """One pinned repository of the sample: a package in a registry at an exact version."""

    registry: Literal["pypi", "npm", "debian"]
    name: str
    version: str
    tier: str = "small"
    repo: str | None = None       # directory name under the owner; defaults per registry
    root: str | None = None       # Debian: the subtree of the package that is the repository
    near_dup_of: str | None = None  # repo_name of the repository this one (partly) duplicates
    license: str | None = None    # Debian: the license, when the package's copyright file is in another package
    note: str | None = None

    @property
    def owner(self) -> str:
        return self.registry

    @property
    def repo_dir(self) -> str:
        if self.repo:
            return self.repo
        if self.registry == "pypi":
            return f"{self.name}-{self.version}"
        if self.registry == "npm":
            return self.name.lstrip("@").replace("/", "__")
        return self.name

    @property
    def repo_name(self) -> str:
        return f"{self.owner}/{self.repo_dir}"

    @property
    def key(self) -> str:
        """A file-system-safe name for the cached download."""
        safe = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{self.name}__{self.version}")
        return f"{self.registry}/{safe}"


def load_sources(size: str = "default", sources_file: Path = SOURCES_FILE) -> list[SourceEntry]:
    """The pinned entries of ``size`` and of every smaller size, in file order."""
    if size not in SIZES:
        raise ValueError(f"sample size {size!r} is not one of {', '.join(SIZES)}")
    wanted = set(SIZES[: SIZES.index(size) + 1])
    data = yaml.safe_load(sources_file.read_text())
    entries = []
    for tier, items in data["tiers"].items():
        if tier not in SIZES:
            raise ValueError(f"{sources_file}: tier {tier!r} is not one of {', '.join(SIZES)}")
        for item in items or []:
            entries.append(SourceEntry(tier=tier, **{k: str(v) for k, v in item.items()}))
    names = Counter(e.repo_name for e in entries)
    doubled = [n for n, c in names.items() if c > 1]
    if doubled:
        raise ValueError(f"{sources_file}: repository names used twice: {doubled}; give one a `repo:`")
    return [e for e in entries if e.tier in wanted]


def built_once(final: Path, build: Callable[[Path], None]) -> Path:
    """``final``, made by ``build(folder)`` in a temporary folder renamed into place on first use; when
    two processes build it at once, the first rename wins and the other copy is discarded."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    build(work)
    try:
        work.rename(final)
    except OSError:   # another process finished first
        shutil.rmtree(work, ignore_errors=True)
    return final


def cache_root(cache_dir: Path | None = None) -> Path:
    """Where downloads and built samples live: the argument, $CODECORPUS_CACHE, or ~/.cache/codecorpus."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("CODECORPUS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "codecorpus"


def sources_digest(entries: list[SourceEntry]) -> str:
    """Identifies the pinned list (and the format), so a cached sample built from another list is rebuilt."""
    # Unset keys are left out, so adding an optional key does not invalidate every cached sample.
    pinned = [{k: v for k, v in e.__dict__.items() if v is not None} for e in entries]
    text = json.dumps([SAMPLE_FORMAT] + pinned, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def build_sample(size: str = "default", cache_dir: Path | None = None, refresh: bool = False,
                 progress: Callable[[str], object] = print) -> Path:
    """Build (or reuse) the sample corpus of ``size`` and return its directory.

    A cached sample whose manifest matches the pinned list is returned as is unless ``refresh``; a refresh
    rebuilds from cached downloads, fetching only what is missing.
    """
    entries = load_sources(size)
    root = cache_root(cache_dir)
    final = root / f"sample-{size}"
    digest = sources_digest(entries)
    manifest_path = final / "manifest.json"
    if not refresh and manifest_path.exists():
        if json.loads(manifest_path.read_text()).get("sources_digest") == digest:
            progress(f"sample {size}: cached at {final}")
            return final
    started = time.monotonic()
    downloads = fetch_all(entries, root / "downloads", progress)
    for stale in root.glob(f".build-sample-{size}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed build
    build = Path(tempfile.mkdtemp(prefix=f".build-sample-{size}-", dir=root))
    progress(f"sample {size}: extracting {len(entries)} repositories")
    jobs = [(e, str(downloads[e.key]), str(build / "repos" / e.owner / e.repo_dir), str(root / "downloads"))
            for e in entries]
    # Biggest first, so one large package does not finish alone at the end.
    order = sorted(range(len(jobs)), key=lambda i: -downloads[entries[i].key].stat().st_size)
    try:
        with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            done = dict(zip(order, pool.map(_extract_job, [jobs[i] for i in order], chunksize=1)))
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    manifest = _manifest(size, digest, [done[i] for i in range(len(jobs))])
    (build / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    (build / "MANIFEST.md").write_text(manifest_markdown(manifest))
    _replace_dir(build, final)
    progress(f"sample {size}: {manifest['totals']['repos']} repositories, {manifest['totals']['files']} files, "
             f"{manifest['totals']['bytes'] / 1e6:.1f} MB in {time.monotonic() - started:.0f}s at {final}")
    return final


def _replace_dir(new: Path, final: Path) -> None:
    """Swap ``new`` into ``final`` with renames only, so readers see the old or the new corpus, never half."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- downloads

def fetch_all(entries: list[SourceEntry], downloads: Path, progress: Callable[[str], object]) -> dict[str, Path]:
    """The cached archive of every entry, downloading the missing ones from their registry."""
    found = {e.key: _cached(downloads, e) for e in entries}
    missing = [e for e in entries if found[e.key] is None]
    if missing:
        progress(f"downloading {len(missing)} packages into {downloads}")
        by_registry = defaultdict(list)
        for e in missing:
            by_registry[e.registry].append(e)
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda reg: download(reg, by_registry[reg], downloads), by_registry))
    for e in entries:
        found[e.key] = _cached(downloads, e)
        if found[e.key] is None:
            raise RuntimeError(f"sample: {e.registry} package {e.name}=={e.version} was not downloaded")
    return found


def download(registry: str, entries: list[SourceEntry], downloads: Path) -> None:
    """Fetch ``entries`` of one registry into the cache: the only function of this module that uses the network."""
    (downloads / registry).mkdir(parents=True, exist_ok=True)
    if registry == "pypi":
        with ThreadPoolExecutor(max_workers=6) as pool:
            errors = [err for err in pool.map(lambda e: _try(_fetch_pypi, e, downloads), entries) if err]
        if errors:
            raise RuntimeError("sample: PyPI downloads failed:\n" + "\n".join(errors))
    elif registry == "npm":
        for i in range(0, len(entries), 40):
            _fetch_npm(entries[i:i + 40], downloads)
    else:
        for i in range(0, len(entries), 60):
            _fetch_debian(entries[i:i + 60], downloads)


def _try(fetch, entry: SourceEntry, downloads: Path) -> str | None:
    try:
        fetch(entry, downloads)
    except Exception as exc:  # report every failed package at once, not just the first
        return f"{entry.name}=={entry.version}: {exc}"
    return None


def _cached(downloads: Path, entry: SourceEntry) -> Path | None:
    meta = downloads / f"{entry.key}.json"
    if not meta.exists():
        return None
    archive = downloads / entry.registry / json.loads(meta.read_text())["file"]
    return archive if archive.exists() else None


def _commit(downloads: Path, entry: SourceEntry, tmp_file: Path, filename: str, origin: dict) -> None:
    """Move a finished download into the cache, then its metadata (whose presence marks it complete)."""
    sha = hashlib.sha256(tmp_file.read_bytes()).hexdigest()
    if origin.get("sha256") and origin["sha256"] != sha:
        raise RuntimeError(f"sample: {entry.registry} {entry.name} {entry.version}: sha256 {sha} "
                           f"differs from the registry's {origin['sha256']}")
    os.replace(tmp_file, downloads / entry.registry / filename)
    meta = dict(origin, file=filename, sha256=sha, bytes=(downloads / entry.registry / filename).stat().st_size)
    part = downloads / f"{entry.key}.json.part"
    part.write_text(json.dumps(meta, sort_keys=True))
    os.replace(part, downloads / f"{entry.key}.json")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _fetch_pypi(entry: SourceEntry, downloads: Path) -> None:
    req = urllib.request.Request(PYPI_SIMPLE.format(name=_normalise(entry.name)),
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        files = json.load(resp)["files"]
    sdists = []
    for f in files:
        m = re.match(r"^(.*)-([^-]+)\.(tar\.gz|zip|tar\.bz2|tgz)$", f["filename"])
        if m and m.group(2) == entry.version and _normalise(m.group(1)) == _normalise(entry.name):
            sdists.append((m.group(3) != "tar.gz", f))
    if not sdists:
        raise RuntimeError(f"sample: PyPI has no source distribution of {entry.name}=={entry.version}")
    f = sorted(sdists, key=lambda s: (s[0], s[1]["filename"]))[0][1]
    tmp = downloads / "pypi" / (f["filename"] + ".part")
    with urllib.request.urlopen(f["url"], timeout=300) as resp, open(tmp, "wb") as out:
        shutil.copyfileobj(resp, out)
    _commit(downloads, entry, tmp, f["filename"], {"url": f["url"], "sha256": f["hashes"].get("sha256")})


def _fetch_npm(entries: list[SourceEntry], downloads: Path) -> None:
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        specs = [f"{e.name}@{e.version}" for e in entries]
        out = subprocess.run(["npm", "pack", "--ignore-scripts", "--json", "--pack-destination", tmp, *specs],
                             check=True, capture_output=True, text=True, cwd=tmp).stdout
        packed = {(p["name"], p["version"]): p for p in json.loads(out)}
        for e in entries:
            p = packed[(e.name, e.version)]
            base = e.name.rsplit("/", 1)[-1]
            url = NPM_TARBALL.format(name=e.name, base=base, version=e.version)
            filename = p["filename"].replace("/", "-")
            _commit(downloads, e, Path(tmp) / p["filename"], filename,
                    {"url": url, "integrity": p.get("integrity"), "shasum": p.get("shasum")})


def _fetch_debian(entries: list[SourceEntry], downloads: Path) -> None:
    specs = [f"{e.name}={e.version}" for e in entries]
    uris = _apt(["apt-get", "download", "--print-uris", *specs], downloads)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        _apt(["apt-get", "download", *specs], Path(tmp))
        by_file = {}
        for line in uris.splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[0].startswith("'"):
                by_file[parts[1]] = {"url": parts[0].strip("'"), "sha256": parts[3].removeprefix("SHA256:")}
        for e in entries:
            debs = [f for f in by_file if f.startswith(f"{e.name}_")]
            if len(debs) != 1:
                raise RuntimeError(f"sample: apt-get did not resolve {e.name}={e.version} to one .deb: {debs}")
            _commit(downloads, e, Path(tmp) / debs[0], debs[0], dict(by_file[debs[0]], apt=f"{e.name}={e.version}"))


def _apt(cmd: list[str], cwd: Path) -> str:
    """Run an apt-get command; on a machine whose package lists are missing, update them once and retry."""
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if run.returncode != 0:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if run.returncode != 0:
        raise RuntimeError(f"sample: {' '.join(cmd[:3])} failed: {run.stderr.strip()[-2000:]}")
    return run.stdout


# ---------------------------------------------------------------- extraction

def _extract_job(job: tuple[SourceEntry, str, str, str]) -> dict:
    entry, archive, dest, downloads = job
    skipped = extract_repo(entry, Path(archive), Path(dest))
    return dict(describe_repo(entry, Path(dest), Path(downloads)), skipped=skipped)


def extract_repo(entry: SourceEntry, archive: Path, dest: Path) -> dict:
    """Unpack one downloaded package as a repository at ``dest``; returns counts of what was skipped
    (links, unsafe paths, large binaries)."""
    dest.mkdir(parents=True, exist_ok=True)
    skipped = Counter()
    if entry.registry == "debian":
        _extract_deb(entry, archive, dest, skipped)
    elif archive.name.endswith(".zip"):
        _extract_zip(archive, dest, skipped)
    else:
        _extract_tar(archive, dest, skipped)
    return dict(sorted(skipped.items()))


def _safe_target(dest: Path, rel: str) -> Path | None:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return dest.joinpath(*parts)


def _write(dest: Path, rel: str, data: bytes, executable: bool, skipped: Counter) -> None:
    target = _safe_target(dest, rel)
    if target is None:
        skipped["unsafe_path"] += 1
        return
    if len(data) > BINARY_JUNK_BYTES and b"\0" in data[:8192]:
        skipped["large_binary"] += 1
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(0o755 if executable else 0o644)


def _strip_common_top(names: list[str]) -> str:
    """The single top directory that sdists (``name-1.0/``) and npm tarballs (``package/``) wrap files in."""
    tops = {n.lstrip("./").split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n.lstrip("./") for n in names):
        return tops.pop() + "/"
    return ""


def _extract_tar(archive: Path, dest: Path, skipped: Counter) -> None:
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        prefix = _strip_common_top([m.name for m in members if m.isfile()])
        for m in members:
            if not m.isfile():
                if m.issym() or m.islnk():
                    skipped["link"] += 1
                continue
            rel = m.name.lstrip("./")[len(prefix):]
            _write(dest, rel, tar.extractfile(m).read(), bool(m.mode & 0o100), skipped)


def _extract_zip(archive: Path, dest: Path, skipped: Counter) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        prefix = _strip_common_top([i.filename for i in infos])
        for i in infos:
            mode = i.external_attr >> 16
            _write(dest, i.filename[len(prefix):], zf.read(i), bool(mode & 0o100), skipped)


def _extract_deb(entry: SourceEntry, archive: Path, dest: Path, skipped: Counter) -> None:
    """A Debian package as a repository: its ``root`` subtree (or all of it but usr/share/doc; or, when
    ``root`` names an archive inside the package, that archive's contents), plus its copyright file as
    ``debian/copyright``."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(archive), tmp], check=True)
        tree = Path(tmp)
        copyright_file = tree / "usr/share/doc" / entry.name / "copyright"
        if entry.root:
            roots = sorted(tree.glob(entry.root))
            if len(roots) != 1:
                raise RuntimeError(f"sample: root {entry.root!r} of {entry.name} matches {len(roots)} paths")
            base = roots[0]
            if base.is_file():  # an archive of sources shipped inside the package (the JDK's src.zip)
                unpack = _extract_zip if base.name.endswith(".zip") else _extract_tar
                unpack(base, dest, skipped)
                base = None
        else:
            base = tree
        for path in sorted(base.rglob("*")) if base else []:
            rel = path.relative_to(base).as_posix()
            if not entry.root and rel.startswith(("usr/share/doc/", "usr/share/lintian/")):
                continue
            if path.is_symlink():
                skipped["link"] += 1
            elif path.is_file():
                _write(dest, rel, path.read_bytes(), os.access(path, os.X_OK), skipped)
        if not copyright_file.is_file():
            if entry.license:
                return  # the pinned list states the license; the repository holds no license file
            # e.g. a -dev package whose doc directory links to its library package's
            raise RuntimeError(f"sample: Debian package {entry.name} ships no usr/share/doc/{entry.name}/copyright "
                               "of its own; choose a package that carries its license, or state it as `license:`")
        _write(dest, "debian/copyright", copyright_file.read_bytes(), False, skipped)


# ---------------------------------------------------------------- manifest

def _language_detector():
    """Our annotator's language rule if it is importable, else go-enry's (the same engine it builds on)."""
    try:
        from codecorpus.annotate.language import detect_language
        return detect_language, "codecorpus.annotate.language"
    except ImportError:
        import enry

        def detect(path: str, content: bytes) -> str | None:
            return enry.get_language(os.path.basename(path), content) or None
        return detect, "enry (fallback: codecorpus.annotate.language not importable)"


def describe_repo(entry: SourceEntry, repo_dir: Path, downloads: Path) -> dict:
    """The manifest record of one extracted repository: source, licenses, bytes, languages (as labelled by
    our annotator), and the SHA-1 of every file (for the near-duplicate check, not written out)."""
    detect, _ = _language_detector()
    languages = defaultdict(lambda: [0, 0])
    n_files = n_bytes = 0
    licenses, blobs = [], set()
    for path in sorted(p for p in repo_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(repo_dir).as_posix()
        content = path.read_bytes()
        n_files += 1
        n_bytes += len(content)
        blobs.add(hashlib.sha1(content).hexdigest())
        lang = detect(rel, content) or "(none)"
        languages[lang][0] += 1
        languages[lang][1] += len(content)
        if LICENSE_FILE.match(path.name) or rel == "debian/copyright":
            licenses.append(rel)
    declared = declared_license(entry, repo_dir)
    return {
        "repo_name": entry.repo_name, "registry": entry.registry, "package": entry.name,
        "version": entry.version, "tier": entry.tier, "source": _source_text(entry, downloads),
        "declared_license": declared, "license_files": licenses,
        "license_kind": license_kind(declared, licenses), "files": n_files, "bytes": n_bytes,
        "languages": {k: {"files": v[0], "bytes": v[1]} for k, v in sorted(languages.items())},
        "near_dup_of": entry.near_dup_of, "note": entry.note, "blobs": blobs,
    }


def _manifest(size: str, digest: str, records: list[dict]) -> dict:
    blobs = {r["repo_name"]: r.pop("blobs") for r in records}
    near_dups = []
    for r in records:
        if r["near_dup_of"] in blobs:
            shared = len(blobs[r["repo_name"]] & blobs[r["near_dup_of"]])
            near_dups.append({"repo_name": r["repo_name"], "of": r["near_dup_of"], "identical_files": shared})
    return {"size": size, "format": SAMPLE_FORMAT, "sources_digest": digest,
            "language_detector": _language_detector()[1], "repos": records, "near_duplicates": near_dups,
            "totals": _totals(records)}


def _source_text(e: SourceEntry, downloads: Path) -> dict:
    meta = json.loads((downloads / f"{e.key}.json").read_text())
    return {k: meta[k] for k in ("url", "sha256", "apt", "integrity") if meta.get(k)}


def _totals(repos: list[dict]) -> dict:
    langs = defaultdict(lambda: {"repos": 0, "files": 0, "bytes": 0})
    for r in repos:
        for lang, v in r["languages"].items():
            langs[lang]["repos"] += 1
            langs[lang]["files"] += v["files"]
            langs[lang]["bytes"] += v["bytes"]
    return {
        "repos": len(repos), "files": sum(r["files"] for r in repos), "bytes": sum(r["bytes"] for r in repos),
        "by_registry": dict(sorted(Counter(r["registry"] for r in repos).items())),
        "by_license_kind": dict(sorted(Counter(r["license_kind"] for r in repos).items())),
        "without_license_file": sum(1 for r in repos if not r["license_files"]),
        "languages": dict(sorted(langs.items())),
    }


def declared_license(entry: SourceEntry, repo_dir: Path) -> str | None:
    """The license the package declares in its own metadata (PKG-INFO, package.json, debian/copyright)."""
    if entry.registry == "pypi":
        pkg_info = repo_dir / "PKG-INFO"
        if not pkg_info.is_file():
            return None
        msg = email.parser.Parser().parsestr(pkg_info.read_text(errors="replace"))
        if msg.get("License-Expression"):
            return msg["License-Expression"].strip()
        text = (msg.get("License") or "").strip()
        if text and text.upper() != "UNKNOWN" and len(text) <= 80 and "\n" not in text:
            return text
        classifiers = [c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
        return "; ".join(classifiers) or (text.splitlines()[0][:80] if text and text.upper() != "UNKNOWN" else None)
    if entry.registry == "npm":
        pkg = repo_dir / "package.json"
        if not pkg.is_file():
            return None
        data = json.loads(pkg.read_text(errors="replace"))
        lic = data.get("license") or data.get("licenses")
        if isinstance(lic, dict):
            lic = lic.get("type")
        if isinstance(lic, list):
            lic = " OR ".join(str(x.get("type", x) if isinstance(x, dict) else x) for x in lic)
        return str(lic) if lic else None
    copyright_file = repo_dir / "debian" / "copyright"
    if not copyright_file.is_file():
        return entry.license
    return _dep5_license(copyright_file.read_text(errors="replace"))


def _dep5_license(text: str) -> str | None:
    """The ``License:`` of the ``Files: *`` paragraph of a machine-readable (DEP-5) debian/copyright;
    None for free-form copyright files, whose wording no rule can reliably read."""
    if not text.lstrip().startswith("Format:"):
        return None
    for para in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", para, re.M):
            m = re.search(r"^License:\s*(.+)$", para, re.M)
            if m:
                return m.group(1).strip()
    return None


def license_kind(declared: str | None, license_files: list[str]) -> str:
    """permissive / copyleft / unknown from the declared license; none when nothing declares a license."""
    if not declared:
        return "none" if not license_files else "unknown"
    if COPYLEFT.search(declared):
        return "copyleft"
    if PERMISSIVE.search(declared):
        return "permissive"
    return "unknown"


def manifest_markdown(manifest: dict) -> str:
    """MANIFEST.md: totals, languages as our annotator labels them, license mix, near-duplicates, every repo."""
    t = manifest["totals"]
    lines = [
        f"# Sample corpus `{manifest['size']}`", "",
        "Real open-source packages fetched by pinned name and version from their registries "
        "(generated by `codecorpus sample`; do not edit).", "",
        f"- repositories: {t['repos']}", f"- files: {t['files']}", f"- bytes: {t['bytes']} ({t['bytes'] / 1e6:.1f} MB)",
        f"- by registry: {', '.join(f'{k} {v}' for k, v in t['by_registry'].items())}",
        f"- license kinds (declared): {', '.join(f'{k} {v}' for k, v in t['by_license_kind'].items())}",
        f"- repositories without any license file: {t['without_license_file']}",
        f"- languages labelled by: {manifest['language_detector']}", "",
        "## Languages", "", "| language | repos | files | bytes |", "| --- | ---: | ---: | ---: |",
    ]
    for lang, v in sorted(t["languages"].items(), key=lambda kv: -kv[1]["bytes"]):
        lines.append(f"| {lang} | {v['repos']} | {v['files']} | {v['bytes']} |")
    lines += ["", "## Near-duplicates", "", "| repository | duplicates part of | identical files |",
              "| --- | --- | ---: |"]
    for d in manifest["near_duplicates"]:
        lines.append(f"| {d['repo_name']} | {d['of']} | {d['identical_files']} |")
    lines += ["", "## Repositories", "",
              "| repository | registry | package | version | source | declared license | kind | license files "
              "| files | bytes | top languages |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | --- |"]
    for r in manifest["repos"]:
        src = r["source"].get("apt") and f"apt {r['source']['apt']}" or r["source"].get("url", "")
        top = sorted(r["languages"].items(), key=lambda kv: -kv[1]["bytes"])[:3]
        lines.append(" | ".join([
            f"| {r['repo_name']}", r["registry"], r["package"], r["version"], src,
            (r["declared_license"] or "—").replace("|", "/"), r["license_kind"],
            ", ".join(r["license_files"]) or "none", str(r["files"]), str(r["bytes"]),
            ", ".join(f"{k} {v['bytes']}" for k, v in top)]) + " |")
    return "\n".join(lines) + "\n"
