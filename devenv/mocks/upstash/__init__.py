"""An Upstash-compatible REST endpoint for the stack's Redis (``@upstash/redis``,
``upstash-redis``): see :mod:`devenv.mocks.upstash.app` for the contract.

The token apps get as ``UPSTASH_REDIS_REST_TOKEN`` is derived from the project's JWT secret, so it
needs no storage of its own and survives what the secret survives (``.devenv/`` lost while the
stack exists: the secret is recovered from the containers, and with it this token).
"""

from __future__ import annotations

import hashlib
import hmac

#: Environment the service reads: the token (never argv, where `ps` shows it) and Redis' URL.
TOKEN_ENV = "DEVENV_UPSTASH_TOKEN"
REDIS_URL_ENV = "DEVENV_UPSTASH_REDIS_URL"


def token_for(jwt_secret: str) -> str:
    """The project's REST token: an HMAC of a fixed label under the JWT secret (URL-safe)."""
    return hmac.new(jwt_secret.encode(), b"devenv upstash rest token", hashlib.sha256).hexdigest()
