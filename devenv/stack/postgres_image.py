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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devenv import environ as environ_mod
from devenv.errors import ImageMissing, last_line

if TYPE_CHECKING:
    from devenv.stack.engine import Engine

#: The default major; [db] major_version picks another (the Supabase CLI's key of that name).
MAJOR = 15
MAJORS = (13, 14, 15, 16, 17, 18)
BASE = f"postgres:{MAJOR}"
BASE_ENV = environ_mod.POSTGRES_BASE_IMAGE

#: What hosted Supabase offers that PostgreSQL's apt repository packages: the extension name
#: ``create extension`` takes -> (package suffix after ``postgresql-15-``, needs preloading).
CATALOGUE: dict[str, tuple[str, bool]] = {
    "pg_cron": ("cron", True),
    "vector": ("pgvector", False),
    "postgis": ("postgis-3", False),
    "pgtap": ("pgtap", False),
    "pgrouting": ("pgrouting", False),
    "http": ("http", False),
    "hypopg": ("hypopg", False),
    "plpgsql_check": ("plpgsql-check", False),
    "pgaudit": ("pgaudit", True),
    "pg_repack": ("repack", False),
    "rum": ("rum", False),
    "pg_partman": ("partman", False),
    "hll": ("hll", False),
}

#: Extensions that come in another's package: ``create extension postgis_topology`` needs
#: ``postgis`` in [db] extensions.
PART_OF: dict[str, str] = {
    "postgis_topology": "postgis",
    "postgis_raster": "postgis",
    "postgis_sfcgal": "postgis",
    "postgis_tiger_geocoder": "postgis",
    "address_standardizer": "postgis",
    "address_standardizer_data_us": "postgis",
    "pg_partman_bgw": "pg_partman",
}

#: The default [db] extensions: what Supabase apps create most (and `devenv test db` needs).
DEFAULT_EXTENSIONS: tuple[str, ...] = ("pg_cron", "vector", "postgis", "pgtap")

_CONTEXT_FILES = ("Dockerfile", "devenv-entrypoint.sh")


def entry(extension: str) -> str | None:
    """The [db] extensions entry that provides ``extension``, or None if devenv cannot build it."""
    name = PART_OF.get(extension, extension)
    return name if name in CATALOGUE else None


@dataclass(frozen=True)
class Build:
    """What devenv builds for the stack's Postgres: the base and the extensions on it."""

    base: str
    extensions: tuple[str, ...]
    major: int = MAJOR

    @property
    def packages(self) -> list[str]:
        return [f"postgresql-{self.major}-{CATALOGUE[e][0]}" for e in self.extensions]

    @property
    def preload(self) -> list[str]:
        return [e for e in self.extensions if CATALOGUE[e][1]]

    def tag(self, compose_dir: Path) -> str:
        """``devenv-postgres:<major>-<digest>``: a local name (never pulled), new for any new
        input."""
        import hashlib  # imported where used: config imports this module on every command

        h = hashlib.sha256()
        for name in _CONTEXT_FILES:
            h.update((compose_dir / "postgres" / name).read_bytes())
        h.update("\0".join([self.base, *self.packages, "preload", *self.preload]).encode())
        return f"devenv-postgres:{self.major}-{h.hexdigest()[:12]}"


def make_build(base: str, extensions: Iterable[str], major: int = MAJOR) -> Build:
    # Canonical order (the catalogue's), no duplicates: the same set is the same image.
    wanted = set(extensions)
    return Build(base=base, extensions=tuple(e for e in CATALOGUE if e in wanted), major=major)


def build(spec: Build, tag: str, engine: Engine, *, nocache: bool = False) -> None:
    """Build and tag the image, pulling the base if it is missing. Raises ImageMissing with the
    reason and what to do (the last line of apt's output when a package cannot be had).
    ``nocache``: every step anew (the benchmark's cold build)."""
    import shutil
    import tempfile

    from docker.errors import APIError, BuildError, ImageNotFound

    from devenv.stack.project import compose_dir

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
        for name in _CONTEXT_FILES:
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

    from devenv.errors import DevenvError
    from devenv.stack.engine import Engine
    from devenv.stack.project import compose_dir

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
