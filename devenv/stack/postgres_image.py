"""The stack's Postgres image: ``postgres:15`` plus the extensions a project names.

Hosted Supabase has pg_cron, pgvector, PostGIS, pgTAP and more; stock ``postgres:15`` has the
contrib set only, so a migration written for Supabase fails locally on its first ``create
extension``. Unless devenv.toml sets ``[images] postgres`` (or DEVENV_IMAGE_POSTGRES does),
``devenv up`` runs ``devenv-postgres:15-<digest>``: built once, FROM ``postgres:15`` (``[images]
registry`` applies) or ``DEVENV_POSTGRES_BASE_IMAGE``, with the packages of ``[db] extensions``
from the apt sources the base image already has (the official image carries PostgreSQL's own apt
repository, which packages all of them for every major). The digest covers the Dockerfile, the
entrypoint, the base and the package list, so a changed list is a new image and an unchanged one
is never rebuilt. Same major, same entrypoint and data directory as the base: a data volume made by
``postgres:15`` keeps working, and the preload settings (pg_cron) are passed at every start, so they
hold for such a volume too.

Run as ``python -m devenv.stack.postgres_image [--base IMAGE] [--extensions a,b] [TAG]`` to build
outside ``devenv up`` (how the test harness makes its image; ``--print-tag`` builds nothing).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from devenv.errors import ImageMissing, last_line
from devenv.postgres_spec import (
    BASE,
    BASE_ENV,
    CATALOGUE,
    CONTEXT_FILES,
    DEFAULT_EXTENSIONS,
    MAJOR,
    MAJORS,
    Build,
    make_build,
)

if TYPE_CHECKING:
    from devenv.stack.engine import EngineLike


def build(spec: Build, tag: str, engine: EngineLike, *, nocache: bool = False) -> None:
    """Build and tag the image, pulling the base if it is missing. Raises ImageMissing with the
    reason and what to do (the last line of apt's output when a package cannot be had).
    ``nocache``: every step anew (the benchmark's cold build)."""
    import shutil
    import tempfile

    from docker.errors import APIError, BuildError, ImageNotFound

    from devenv.assets import compose_dir

    client = engine.client
    todo = (
        f"set {BASE_ENV} to a postgres:{spec.major} image you have, trim [db] extensions, or point"
        " [images] postgres / DEVENV_IMAGE_POSTGRES at an image to run as it is"
    )
    try:
        client.images.get(spec.base)
    except ImageNotFound:
        try:
            client.images.pull(spec.base)
        except APIError as exc:
            raise ImageMissing(
                f"cannot build the Postgres image {tag}: its base image {spec.base} is not"
                f" present and could not be pulled ({last_line(str(exc.explanation or exc))})",
                f"`docker pull {spec.base}`, or {todo}",
            ) from None
    with tempfile.TemporaryDirectory(prefix="devenv-postgres-") as tmp:
        for name in CONTEXT_FILES:
            shutil.copy2(compose_dir() / "postgres" / name, Path(tmp) / name)
        try:
            client.images.build(
                path=tmp,
                tag=tag,
                buildargs={
                    "BASE_IMAGE": spec.base,
                    "PACKAGES": " ".join(spec.packages),
                    "PRELOAD": ",".join(spec.preload),
                },
                pull=False,
                nocache=nocache,
                rm=True,
                forcerm=True,
                labels={"dev.devenv.extensions": ",".join(spec.extensions)},
            )
        except BuildError as exc:
            log = "".join(str(chunk.get("stream", "")) for chunk in exc.build_log)
            raise ImageMissing(
                f"building the Postgres image {tag} from {spec.base} with"
                f" {', '.join(spec.extensions)} failed: {_why(log) or exc.msg}",
                f"the base image's apt sources must have {' '.join(spec.packages)}; {todo}",
            ) from None


def _why(log: str) -> str:
    """The line that says why: apt's ``E:`` line (which package it could not locate) when there
    is one, else the log's last line."""
    import re

    # The engine colours a step's stderr (ESC[91m ... ESC[0m) inside the stream.
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    errors = [line.strip() for line in plain.splitlines() if line.strip().startswith("E:")]
    return errors[0] if errors else last_line(plain)


def main(argv: list[str]) -> int:
    import argparse

    from devenv.assets import compose_dir
    from devenv.errors import DevenvError
    from devenv.stack.engine import Engine

    parser = argparse.ArgumentParser(prog="python -m devenv.stack.postgres_image")
    parser.add_argument("tag", nargs="?", help="default: the tag `devenv up` would give it")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--major", type=int, default=MAJOR, choices=MAJORS)
    parser.add_argument("--extensions", default=",".join(DEFAULT_EXTENSIONS))
    parser.add_argument("--print-tag", action="store_true", help="print the tag; build nothing")
    args = parser.parse_args(argv)
    names = [e for e in args.extensions.split(",") if e]
    unknown = [e for e in names if e not in CATALOGUE]
    if unknown:
        parser.error(f"unknown extension(s) {', '.join(unknown)}; known: {', '.join(CATALOGUE)}")
    spec = make_build(args.base, names, args.major)
    tag = args.tag or spec.tag(compose_dir())
    if not args.print_tag:
        try:
            build(spec, tag, Engine())
        except DevenvError as exc:
            sys.stderr.write(f"devenv: error: {exc.one_line()}\n")
            return exc.exit_code
    print(tag)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
