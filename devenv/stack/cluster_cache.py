"""The initialised-cluster cache: a first start of Postgres without initdb on the critical path.

A new cluster costs initdb, the bootstrap and GoTrue's migrations (0.8-1 s of a cold `up`, and of
every test stack, whose data lives on a tmpfs). The first start that makes one keeps a copy (a base
backup, taken while the server runs) in one engine-wide volume, ``devenv-cluster-cache``; the next
first start with the same inputs copies it in and sets its own passwords instead. The work inside
the container is compose/postgres/devenv-cluster.sh (devenv's Postgres image); this module names
the entry (:func:`key`), makes the volume, and asks for the copy once GoTrue has migrated.

The key hashes every input of a new cluster: the Postgres image, compose.yaml (the service's
settings and GoTrue's), the bootstrap script, and GoTrue's image when the stack runs GoTrue. Any
change is a new key, so a stale entry is never used; entries past the newest eight are removed, and
one whose files do not match its manifest is removed and never used (devenv-cluster.sh). The volume
is not the project's: `devenv down --volumes` keeps it, `devenv gc --caches` removes it.

Only devenv's own Postgres image has the script; any other image ignores the variables.
"""

from __future__ import annotations

from collections.abc import Iterable

from devenv.assets import compose_dir, compose_file

VOLUME = "devenv-cluster-cache"
#: Labels of the volume devenv makes (`devenv gc --caches` finds it by them).
LABELS = {"dev.devenv.cache": "cluster"}
#: What the entrypoint prints when it found no entry and initialised (the cue to keep one).
MISSED = "devenv: no cached cluster for "
HIT = "devenv: the cluster came from devenv's cache"
_FORMAT = "devenv cluster cache 1"


def override_file() -> str:
    """The compose file that mounts the cache and passes the keys (after any other override:
    the test stacks' tmpfs override resets the service's volumes)."""
    return str(compose_dir() / "cluster-cache.yaml")


def key(images: dict[str, str], services: Iterable[str], bootstrap: str) -> str:
    """The entry for a new cluster of ``images`` (service -> image) in a stack running
    ``services``, made by ``bootstrap``."""
    import hashlib  # here: OpenSSL's load is a cost `doctor engine` need not pay

    h = hashlib.sha256(_FORMAT.encode())
    h.update(b"\0" + images["postgres"].encode())
    h.update(b"\0" + compose_file().read_bytes())
    h.update(b"\0" + bootstrap.encode())
    # GoTrue migrates the database it starts on: its image's migrations are in the cluster.
    h.update(b"\0" + (images["gotrue"] if "gotrue" in services else "").encode())
    return h.hexdigest()[:32]


def data_key(cluster: str, digest: str) -> str:
    """The entry of a test stack's migrated and seeded cluster: ``cluster``'s, then the data
    step whose inputs hash to ``digest`` (devenv.db.plan.DataPlan.digest)."""
    import hashlib

    return hashlib.sha256(f"{cluster}\0data\0{digest}".encode()).hexdigest()[:32]
