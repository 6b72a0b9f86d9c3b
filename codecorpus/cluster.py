"""Running codecorpus on a Spark cluster with spark-submit.

Two artefacts go to the cluster, as the PySpark package-management docs describe:
  * the codecorpus wheel, shipped with ``--py-files`` under a ``.zip`` name: PySpark puts only
    .zip/.egg/.jar py-files on the executors' sys.path (``PACKAGE_EXTENSIONS`` in
    pyspark/core/context.py), and a wheel of pure-Python code is a zip archive;
  * a packed virtual environment of the third-party packages (venv-pack), shipped with
    ``--archives env.tar.gz#environment`` and used through ``spark.pyspark.python``.

``python -m codecorpus.cluster pack --out dist/cluster`` builds them. The ``jobs/*.py`` entry points
call :func:`run_job`; :func:`submit_args` spells out a spark-submit command line (docs/cluster.md).
"""
from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zipimport
from pathlib import Path

# Left out of the packed environment: codecorpus itself (the wheel ships it; a development checkout
# is installed in editable mode, which points at this machine's source tree) and Spark's jars (the
# cluster's own Spark runs the JVM side; Python workers only need the pyspark Python package).
DEFAULT_EXCLUDES = (
    "lib/python*/site-packages/__editable__*codecorpus*",
    "lib/python*/site-packages/codecorpus-*.dist-info/*",
    "lib/python*/site-packages/pyspark/jars/*",
    "bin/codecorpus",
)


# -- the job side ------------------------------------------------------------------------------
def _shipped_wheel() -> Path | None:
    """The codecorpus wheel spark-submit put on sys.path (--py-files), if codecorpus comes from one."""
    import codecorpus
    loader = getattr(codecorpus, "__loader__", None)
    return Path(loader.archive) if isinstance(loader, zipimport.zipimporter) else None


def _import_from_unpacked(wheel: Path) -> None:
    """Re-import codecorpus from an unpacked copy of ``wheel`` on the driver.

    A wheel on sys.path is imported by zipimport, which serves modules and ``importlib.resources``
    reads, but not code that opens package files by path (the table schemas, the code-version hash
    of the manifests). Executors only need the former, so they keep importing from the zip."""
    target = Path(tempfile.mkdtemp(prefix="codecorpus-wheel-"))
    atexit.register(shutil.rmtree, target, True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    for name in [m for m in sys.modules if m == "codecorpus" or m.startswith("codecorpus.")]:
        del sys.modules[name]
    sys.path.insert(0, str(target))


def run_job(stage: str | None, argv: list[str] | None = None) -> int:
    """Entry of ``jobs/<stage>.py`` (``stage=None``: jobs/pipeline.py, every enabled stage).

    Runs exactly what ``codecorpus run CONFIG`` / ``codecorpus stage NAME CONFIG`` runs; under
    spark-submit the session takes the launcher's master and settings (codecorpus.session)."""
    what = "every enabled stage of CONFIG" if stage is None else f"the {stage} stage of CONFIG"
    parser = argparse.ArgumentParser(description=f"spark-submit entry: run {what}, then print the summary.")
    parser.add_argument("--config", required=True, help="YAML run config; its run_dir must be on a filesystem "
                                                        "every node sees (hdfs://, s3a://, a shared mount)")
    args = parser.parse_args(argv)
    wheel = _shipped_wheel()
    if wheel is not None:
        _import_from_unpacked(wheel)
    from codecorpus import cli
    command = ["run", args.config] if stage is None else ["stage", stage, args.config]
    return cli.main(command)


# -- the build side ----------------------------------------------------------------------------
def project_root() -> Path:
    """The source checkout codecorpus is imported from (needs pyproject.toml next to the package)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root} holds no pyproject.toml: build the wheel from a source checkout")
    return root


def build_wheel(out_dir: str | Path, root: str | Path | None = None) -> Path:
    """Build the codecorpus wheel into ``out_dir`` and return its path.

    The source is staged in a temporary folder, so the checkout gets no build/ or egg-info litter,
    and the table schemas (schemas/*.json at the top of the repo) are put inside the package as
    ``codecorpus/data/schemas``, where codecorpus.tables looks for them in an installed copy."""
    root = Path(root) if root else project_root()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codecorpus-build-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(root / "codecorpus", src / "codecorpus",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(root / "schemas", src / "codecorpus" / "data" / "schemas", dirs_exist_ok=True)
        for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
            if (root / name).is_file():
                shutil.copy(root / name, src / name)
        built = Path(tmp) / "dist"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(built), str(src)],
                       check=True)
        (wheel,) = built.glob("codecorpus-*.whl")
        target = out_dir / wheel.name
        shutil.move(str(wheel), target)
    return target


def py_files_zip(wheel: str | Path) -> Path:
    """A copy of ``wheel`` named .zip, the name under which --py-files reaches the executors."""
    wheel = Path(wheel)
    target = wheel.with_suffix(".zip")
    shutil.copyfile(wheel, target)
    return target


def pack_env(output: str | Path, prefix: str | Path | None = None,
             excludes: tuple[str, ...] = DEFAULT_EXCLUDES, compress_level: int = 4) -> Path:
    """Pack the virtual environment at ``prefix`` (default: the running one) with venv-pack.

    The archive holds the packages, not the interpreter: every node needs the same Python version
    at the path the venv was made from (or use conda-pack, or a container image, instead)."""
    import venv_pack
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        output.unlink()
    venv_pack.pack(prefix=str(prefix or sys.prefix), output=str(output), format="tar.gz",
                   compress_level=compress_level,
                   filters=[("exclude", pattern) for pattern in excludes])
    return output


def env_key(prefix: str | Path | None = None, excludes: tuple[str, ...] = DEFAULT_EXCLUDES) -> str:
    """What a packed environment depends on: the interpreter and the installed distributions
    (names and versions), not codecorpus's own code, which travels in the wheel."""
    prefix = Path(prefix or sys.prefix)
    dists = sorted(p.name for p in prefix.glob("lib/python*/site-packages/*.dist-info")
                   if not p.name.startswith("codecorpus-"))
    text = json.dumps([sys.version, str(prefix), list(excludes), dists])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def cached_env(cache_dir: str | Path | None = None, prefix: str | Path | None = None) -> Path:
    """The packed environment from the cache (built on first use; packing the full development venv
    takes a minute of CPU), under $CODECORPUS_CACHE/cluster by default."""
    from codecorpus.sources.sample import cache_root
    path = cache_root(Path(cache_dir) if cache_dir else None) / "cluster" / f"env-{env_key(prefix)}.tar.gz"
    if not path.exists():
        partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
        pack_env(partial, prefix)
        os.replace(partial, path)     # atomic: a killed build leaves no half archive under the real name
    return path


def submit_args(master: str, job: str | Path, config: str | Path, code_zip: str | Path,
                env_archive: str | Path | None = None, deploy_mode: str = "client",
                conf: dict[str, str] | None = None, spark_submit: str = "spark-submit") -> list[str]:
    """A spark-submit command line for ``job`` (a jobs/*.py file), shipping ``code_zip`` (py_files_zip).

    With ``env_archive`` the executors (and a cluster-mode driver) run the packed environment's
    Python, unpacked by Spark as ./environment in each container's working directory."""
    settings = dict(conf or {})
    args = [spark_submit, "--master", master, "--deploy-mode", deploy_mode, "--py-files", str(code_zip)]
    if env_archive is not None:
        args += ["--archives", f"{env_archive}#environment"]
        settings.setdefault("spark.pyspark.python", "./environment/bin/python")
        if deploy_mode == "client":
            # The client-mode driver runs here, outside any container, with the local Python.
            settings.setdefault("spark.pyspark.driver.python", sys.executable)
    for key, value in settings.items():
        args += ["--conf", f"{key}={value}"]
    return args + [str(job), "--config", str(config)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codecorpus.cluster",
                                     description="Build what spark-submit ships: the wheel and the packed env.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="build codecorpus-*.whl, its .zip copy for --py-files, and env.tar.gz")
    p.add_argument("--out", default="dist/cluster", help="output folder (default: dist/cluster)")
    p.add_argument("--no-env", action="store_true", help="only build the wheel and its .zip copy")
    args = parser.parse_args(argv)
    started = time.time()
    wheel = build_wheel(args.out)
    print(f"wheel: {wheel} ({wheel.stat().st_size / 1e6:.1f} MB, {time.time() - started:.0f} s)")
    print(f"--py-files: {py_files_zip(wheel)}")
    if not args.no_env:
        started = time.time()
        env = pack_env(Path(args.out) / "env.tar.gz")
        print(f"env:   {env} ({env.stat().st_size / 1e6:.0f} MB, {time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
