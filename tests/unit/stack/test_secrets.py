"""Keys: random per project, private on disk, valid HS256 JWTs, masked in output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jwt
import pytest

from devenv.errors import SecretsError
from devenv.stack import secrets


def test_generated_keys_are_random_and_signed(tmp_path: Path) -> None:
    a, b = secrets.generate(), secrets.generate()
    assert a.jwt_secret != b.jwt_secret and a.postgres_password != b.postgres_password
    assert len(a.jwt_secret) >= 32  # GoTrue's minimum for HS256
    claims = jwt.decode(a.anon_key, a.jwt_secret, algorithms=["HS256"])
    assert claims["role"] == "anon" and claims["exp"] > claims["iat"]
    svc = jwt.decode(a.service_role_key, a.jwt_secret, algorithms=["HS256"])
    assert svc["role"] == "service_role"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(a.anon_key, b.jwt_secret, algorithms=["HS256"])


def test_saved_private_and_self_ignoring(tmp_path: Path) -> None:
    state = tmp_path / ".devenv"
    keys = secrets.generate()
    secrets.save(state, keys)
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "secrets.json").st_mode) == 0o600
    assert (state / ".gitignore").read_text().strip().endswith("*")
    assert secrets.load(state) == keys
    assert not list(state.glob(".*.tmp"))  # atomic write leaves no temp file


def test_missing_and_corrupt(tmp_path: Path) -> None:
    assert secrets.load(tmp_path / "nothing") is None
    state = tmp_path / ".devenv"
    state.mkdir()
    (state / "secrets.json").write_text("{not json")
    with pytest.raises(SecretsError) as err:
        secrets.load(state)
    assert "secrets.json" in err.value.one_line()


def test_mask_shows_neither_value_nor_length() -> None:
    keys = secrets.generate()
    for raw, shown in zip(
        (keys.jwt_secret, keys.postgres_password, keys.service_role_key),
        (secrets.mask(keys.jwt_secret), secrets.mask(keys.postgres_password),
         secrets.mask(keys.service_role_key)),
        strict=True,
    ):  # fmt: skip
        assert shown.startswith("****") and len(shown) == 10
        assert raw not in shown
    # Same width whatever the length; two keys stay tell-apart-able.
    assert len(secrets.mask("a")) == len(secrets.mask("a" * 500)) == 10
    assert secrets.mask("one-key") != secrets.mask("other-key")
