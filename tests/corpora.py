"""Test corpora built from real files: the Python standard library (PSF license, shipped with every
interpreter) and files of installed packages. Bad cases are real files put in bad shapes (truncated
archives, traversal paths, symlinks out of the repo), as they occur in the wild."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sysconfig
import tarfile
import zipfile
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
PSF_LICENSE = STDLIB / "LICENSE.txt"
JSON_PACKAGE = STDLIB / "json"        # 5 real modules
EMAIL_PACKAGE = STDLIB / "email"
LARGE_MODULE = STDLIB / "_pydecimal.py"   # ~230 KB
CJK_ENCODINGS = STDLIB / "test" / "cjkencodings"   # CPython's encoded texts with their UTF-8 twins
REAL_PNG = next(Path(__import__("matplotlib").__file__).parent.glob("mpl-data/images/*.png"))


def copy_package(src: Path, dst: Path) -> list[str]:
    dst.mkdir(parents=True, exist_ok=True)
    names = []
    for path in sorted(src.glob("*.py")):
        shutil.copy(path, dst / path.name)
        names.append(path.name)
    shutil.copy(PSF_LICENSE, dst / "LICENSE")
    return names + ["LICENSE"]


def git_repo(dst: Path, src: Path) -> None:
    copy_package(src, dst)
    os.symlink("decoder.py", dst / "alias.py")
    env = {**os.environ, "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
    run = lambda *a: subprocess.run(["git", "-C", str(dst), *a], check=True, capture_output=True, env=env)  # noqa
    run("init", "-q")
    run("add", ".")
    run("-c", "user.name=codecorpus", "-c", "user.email=tests@codecorpus.invalid", "commit", "-qm", "import")


def tarball(dst: Path, src: Path, top: str, extra: dict[str, bytes] | None = None) -> None:
    with tarfile.open(dst, "w:gz") as archive:
        for path in sorted(src.glob("*.py")):
            archive.add(path, arcname=f"{top}/{path.name}")
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def good_corpus(root: Path) -> Path:
    """Four real repositories, one of each kind: folder, git, tar.gz, zip."""
    copy_package(JSON_PACKAGE, root / "python" / "json-dir")
    git_repo(root / "python" / "json-git", JSON_PACKAGE)
    tarball(root / "python" / "email-tar.tar.gz", EMAIL_PACKAGE, "email-3.11")
    with zipfile.ZipFile(root / "python" / "json-zip.zip", "w") as archive:
        for path in sorted(JSON_PACKAGE.glob("*.py")):
            archive.write(path, f"json-3.11/{path.name}")
    return root


def bad_corpus(root: Path) -> Path:
    """Each bad case of the ingest spec, from real files."""
    bad = root / "bad"
    mixed = bad / "mixed"
    copy_package(JSON_PACKAGE, mixed)
    shutil.copy(REAL_PNG, mixed / "logo.png")                                   # binary
    shutil.copy(CJK_ENCODINGS / "shift_jis.txt", mixed / "shift_jis.txt")        # legacy encoding
    shutil.copy(LARGE_MODULE, mixed / "_pydecimal.py")                          # over the test's size cap
    (mixed / "broken.json").write_text((STDLIB.parent / "python3.11" / "json" / "__init__.py").read_text()[:50])
    os.symlink("/etc/hostname", mixed / "outside-link")                        # symlink out of the repo
    os.symlink("decoder.py", mixed / "inside-link.py")
    # A tar whose members try to escape the repository, beside a good member.
    tarball(bad / "traversal.tar.gz", JSON_PACKAGE, "json-3.11",
            extra={"../../escape.py": (JSON_PACKAGE / "tool.py").read_bytes(),
                   "/etc/absolute.py": (JSON_PACKAGE / "tool.py").read_bytes()})
    # A real tarball cut in the middle (truncated gzip) and a zip cut short.
    tarball(bad / "whole.tar.gz", EMAIL_PACKAGE, "email-3.11")
    data = (bad / "whole.tar.gz").read_bytes()
    (bad / "truncated.tar.gz").write_bytes(data[: len(data) // 2])
    (bad / "whole.tar.gz").unlink()
    with zipfile.ZipFile(bad / "zipped.zip", "w") as archive:
        archive.write(JSON_PACKAGE / "decoder.py", "decoder.py")
    data = (bad / "zipped.zip").read_bytes()
    (bad / "corrupt.zip").write_bytes(data[:100])
    (bad / "zipped.zip").unlink()
    return root
