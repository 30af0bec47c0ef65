"""The Fireworks mock's image, built from the installed devenv package.

The mock is this package, so no registry has its image: ``devenv up`` builds it when missing.
The build context is compose/fireworks/Dockerfile plus ``wheels/``: a wheel of devenv-stack (from
the source checkout when devenv runs from one, else the same version from the package index) and
of every dependency, made by ``pip wheel`` for this interpreter. The image installs them with
``--no-index``, so the build itself needs no network, and its Python must be this one's
major.minor (compiled wheels such as orjson and psycopg's are per version): the base image is
``python:X.Y-slim``, or ``DEVENV_FIREWORKS_BASE_IMAGE`` (any image with python3 X.Y and pip), which
is how machines without a registry build it (tests/hermetic/setup).

Run as ``python -m devenv.stack.fireworks_image TAG`` to build outside ``devenv up``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devenv import __version__
from devenv import environ as environ_mod
from devenv.errors import ImageMissing, last_line
from devenv.stack.engine import Engine, EngineLike

BASE_ENV = environ_mod.FIREWORKS_BASE_IMAGE


def base_image(env: environ_mod.Environ) -> str:
    return env.fireworks_base_image or f"python:{sys.version_info[0]}.{sys.version_info[1]}-slim"


def package_source() -> str:
    """What ``pip wheel`` builds devenv-stack from: this checkout if devenv runs from one (an
    editable install, a developer's working tree), else the released version."""
    root = Path(__file__).resolve().parent.parent.parent
    if (root / "pyproject.toml").is_file() and (root / "devenv" / "__init__.py").is_file():
        return str(root)
    return f"devenv-stack=={__version__}"


def make_context(dest: Path, compose_dir: Path) -> Path:
    """Fill ``dest`` with the Dockerfile and wheels/; returns ``dest``."""
    shutil.copy2(compose_dir / "fireworks" / "Dockerfile", dest / "Dockerfile")
    wheels = dest / "wheels"
    wheels.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--wheel-dir", str(wheels), package_source()],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        why = last_line(proc.stderr) or f"pip exited {proc.returncode}"
        raise ImageMissing(
            f"cannot build the Fireworks mock image: `pip wheel` of devenv-stack failed: {why}",
            "make the package index (or a pip cache with devenv's dependencies) reachable, or"
            " point DEVENV_IMAGE_FIREWORKS at an image you have",
        )
    return dest


def build(tag: str, engine: EngineLike, env: environ_mod.Environ) -> None:
    """Build and tag the mock's image. Raises ImageMissing with the reason and what to do."""
    from docker.errors import APIError, BuildError, ImageNotFound

    from devenv.assets import compose_dir

    client = engine.client
    base = base_image(env)
    try:
        client.images.get(base)
    except ImageNotFound:
        try:
            client.images.pull(base)
        except APIError as exc:
            raise ImageMissing(
                f"cannot build the Fireworks mock image {tag}: its base image {base} is not"
                f" present and could not be pulled ({last_line(str(exc.explanation or exc))})",
                f"`docker pull {base}`, or set {BASE_ENV} to an image with python3"
                f" {sys.version_info[0]}.{sys.version_info[1]} and pip",
            ) from None
    with tempfile.TemporaryDirectory(prefix="devenv-fireworks-") as tmp:
        ctx = make_context(Path(tmp), compose_dir())
        try:
            client.images.build(
                path=str(ctx),
                tag=tag,
                buildargs={"BASE_IMAGE": base},
                pull=False,
                rm=True,
                forcerm=True,
            )
        except BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
            py = f"{sys.version_info[0]}.{sys.version_info[1]}"
            raise ImageMissing(
                f"building the Fireworks mock image {tag} from {base} failed:"
                f" {last_line(log) or exc.msg}",
                f"the base image needs python3 {py} with pip; set {BASE_ENV} to one,"
                " or point DEVENV_IMAGE_FIREWORKS at an image you have",
            ) from None


def main(argv: list[str]) -> int:
    from devenv.errors import DevenvError

    if len(argv) != 1:
        sys.stderr.write("usage: python -m devenv.stack.fireworks_image TAG\n")
        return 2
    try:
        build(argv[0], Engine(), environ_mod.read())
    except DevenvError as exc:
        sys.stderr.write(f"devenv: error: {exc.one_line()}\n")
        return exc.exit_code
    print(argv[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
