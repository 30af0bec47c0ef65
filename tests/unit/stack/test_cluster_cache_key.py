"""The cluster cache's key (devenv.stack.cluster_cache): every input of a new cluster is in it,
so an entry made from other inputs is never used."""

from __future__ import annotations

from devenv.stack import cluster_cache


def test_the_key_changes_with_every_input() -> None:
    images = {"postgres": "devenv-postgres:15-a", "gotrue": "supabase/gotrue:v2.1"}
    base = cluster_cache.key(images, ["postgres", "gotrue"], "bootstrap")
    assert cluster_cache.key(images, ["postgres", "gotrue"], "bootstrap") == base
    assert (
        cluster_cache.key(
            {**images, "postgres": "devenv-postgres:15-b"}, ["postgres", "gotrue"], "bootstrap"
        )
        != base
    )
    assert (
        cluster_cache.key(
            {**images, "gotrue": "supabase/gotrue:v2.2"}, ["postgres", "gotrue"], "bootstrap"
        )
        != base
    )
    assert cluster_cache.key(images, ["postgres"], "bootstrap") != base
    assert cluster_cache.key(images, ["postgres", "gotrue"], "bootstrap 2") != base
    assert cluster_cache.data_key(base, "d1") != cluster_cache.data_key(base, "d2")
