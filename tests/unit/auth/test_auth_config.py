"""[auth] in devenv.toml and the mail service in [project] services."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv import config
from devenv.errors import ConfigError


def load(tmp_path: Path, text: str) -> config.Config:
    (tmp_path / "devenv.toml").write_text(text)
    return config.load(tmp_path)


def test_auth_defaults_as_supabase_start(tmp_path: Path) -> None:
    cfg = config.load(tmp_path)
    assert cfg.auth.enable_confirmations is False
    assert cfg.auth.enable_signup is True
    assert cfg.auth.site_url == "http://localhost:3000"
    assert cfg.auth.jwt_expiry == 3600
    assert cfg.auth.additional_redirect_urls == ()
    # The mail catcher is on by default, on its documented port.
    assert "mail" in cfg.services
    assert cfg.ports["mail"] == 54324
    assert cfg.image("mail").startswith(("axllent/mailpit:", "devenv-hermetic/"))


def test_auth_table_read(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[auth]\nsite_url = "http://app.test"\nadditional_redirect_urls = ["myapp://cb"]\n'
        "enable_confirmations = true\nenable_signup = false\njwt_expiry = 120\n",
    )
    assert cfg.auth == config.AuthConfig(
        site_url="http://app.test",
        jwt_expiry=120,
        additional_redirect_urls=("myapp://cb",),
        enable_signup=False,
        enable_confirmations=True,
    )


def test_mail_can_be_removed(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[project]\nservices = ["postgres", "gotrue", "kong"]\n')
    assert "mail" not in cfg.services


def test_bad_auth_values_and_unknown_keys_all_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(
            tmp_path,
            '[auth]\nenable_confirmations = "yes"\nenable_confirmation = true\njwt_expiry = 0\n',
        )
    problems = err.value.problems
    f = str(tmp_path / "devenv.toml")
    assert f"{f}: auth.enable_confirmations: expected true or false, got 'yes'" in problems
    assert any(p.startswith(f"{f}: auth.enable_confirmation: unknown key") for p in problems)
    assert any("auth.jwt_expiry" in p for p in problems)
    assert err.value.exit_code == 2
