"""What devenv's Postgres image is made of: the base, the major and the [db] extensions, and the
tag that names one such image. Pure data (no engine): the config validates [db] against it, and
devenv.stack.postgres_image builds what it describes (see that module for why the image exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devenv import environ as environ_mod

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

#: The build context: the files under compose/postgres/ the image is built from.
CONTEXT_FILES = ("Dockerfile", "devenv-entrypoint.sh", "devenv-cluster.sh")


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
        import hashlib  # imported where used: the config imports this module on every command

        h = hashlib.sha256()
        for name in CONTEXT_FILES:
            h.update((compose_dir / "postgres" / name).read_bytes())
        h.update("\0".join([self.base, *self.packages, "preload", *self.preload]).encode())
        return f"devenv-postgres:{self.major}-{h.hexdigest()[:12]}"


def make_build(base: str, extensions: Iterable[str], major: int = MAJOR) -> Build:
    # Canonical order (the catalogue's), no duplicates: the same set is the same image.
    wanted = set(extensions)
    return Build(base=base, extensions=tuple(e for e in CATALOGUE if e in wanted), major=major)
