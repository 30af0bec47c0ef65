"""An Upstash-compatible REST endpoint for the stack's Redis (``@upstash/redis``,
``upstash-redis``): see :mod:`devenv.upstash_rest.app` for the contract.

The token apps get as ``UPSTASH_REDIS_REST_TOKEN`` is one of the project's keys, derived from its
JWT secret (devenv.stack.secrets.upstash_token); the service is handed it in its environment.
"""

from __future__ import annotations

#: Environment the service reads: the token (never argv, where `ps` shows it) and Redis' URL.
TOKEN_ENV = "DEVENV_UPSTASH_TOKEN"
REDIS_URL_ENV = "DEVENV_UPSTASH_REDIS_URL"
