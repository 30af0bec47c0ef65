"""The project's keys: a random JWT secret and Postgres password, and the anon and service_role
JWTs signed with that secret (HS256, as Supabase does), kept in ``.devenv/secrets.json`` (0600).

They are made at the first ``devenv up``. If ``.devenv/`` disappears while a stack still exists,
the secret and password are recovered from the stack's containers rather than replaced, so the
database stays reachable and issued tokens stay valid.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devenv.errors import SecretsError

SECRETS_FILE = "secrets.json"
_TEN_YEARS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class Keys:
    jwt_secret: str
    postgres_password: str
    anon_key: str
    service_role_key: str

    def masked(self) -> dict[str, str]:
        return {k: mask(v) for k, v in asdict(self).items()}

    @property
    def upstash_token(self) -> str:
        return upstash_token(self.jwt_secret)


def upstash_token(jwt_secret: str) -> str:
    """The Upstash REST endpoint's token (``UPSTASH_REDIS_REST_TOKEN``): an HMAC of a fixed label
    under the JWT secret, so it needs no storage of its own and survives what the secret
    survives (``.devenv/`` lost while the stack exists: the secret is recovered from the
    containers, and with it this token)."""
    import hashlib
    import hmac

    return hmac.new(jwt_secret.encode(), b"devenv upstash rest token", hashlib.sha256).hexdigest()


def mask(value: str) -> str:
    """A fixed-width stand-in that tells two keys apart (a short fingerprint of a digest) and
    shows neither the value, any part of it, nor its length."""
    import hashlib

    return "****" + hashlib.sha256(value.encode()).hexdigest()[:6]


def sign(secret: str, role: str, *, issued_at: int | None = None) -> str:
    import jwt

    iat = int(time.time()) if issued_at is None else issued_at
    payload = {
        "iss": "supabase",
        "ref": "devenv",
        "role": role,
        "iat": iat,
        "exp": iat + _TEN_YEARS,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def derive(jwt_secret: str, postgres_password: str) -> Keys:
    return Keys(
        jwt_secret=jwt_secret,
        postgres_password=postgres_password,
        anon_key=sign(jwt_secret, "anon"),
        service_role_key=sign(jwt_secret, "service_role"),
    )


def generate() -> Keys:
    import secrets as _random  # here: it loads OpenSSL (hmac), which most commands never need

    # 40 url-safe bytes: comfortably above GoTrue's 32-character minimum for HS256 secrets.
    return derive(_random.token_urlsafe(40), _random.token_urlsafe(24))


def ensure_state_dir(state_dir: Path) -> None:
    """Create ``.devenv/`` private (0700) and self-ignoring, so no key is ever committed."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# devenv private state: keys and rendered configs\n*\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as 0600, atomically: Ctrl-C never leaves half a key file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(state_dir: Path) -> Keys | None:
    path = state_dir / SECRETS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Keys(**{k: str(data[k]) for k in Keys.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SecretsError(
            f"{path}: unreadable or incomplete ({type(exc).__name__})",
            "restore it from a backup, or delete it and run `devenv down --volumes` then "
            "`devenv up` to start over with new keys",
        ) from None


def save(state_dir: Path, keys: Keys) -> None:
    ensure_state_dir(state_dir)
    write_private(state_dir / SECRETS_FILE, json.dumps(asdict(keys), indent=2) + "\n")
