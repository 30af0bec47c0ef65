"""Which GoTrue answers to `POST /admin/users` mean "this id is taken" (the body shapes as GoTrue
sends them; the real exchange runs in tests/integration/test_auth_mail.py)."""

from __future__ import annotations

import httpx

from devenv.db.auth import _error_of, _id_taken

# GoTrue v2.196.0, id of an existing user: Postgres' unique violation passed through as is.
V2_196 = (
    b'{"code":"23505","message":"duplicate key value violates unique constraint \\"users_pkey\\"",'
    b'"detail":"Key (id)=(f84cb69a-3025-4370-8eb9-f2209050c28c) already exists."}'
)
# Older releases' generic wording.
OLDER = b'{"code":500,"error_code":"unexpected_failure","msg":"Database error creating new user"}'
# A unique violation on something else is not about the id.
OTHER = b'{"code":"23505","message":"duplicate key value violates unique constraint \\"x_key\\""}'


def answer(body: bytes) -> httpx.Response:
    return httpx.Response(500, content=body, headers={"content-type": "application/json"})


def test_taken_id_recognised_in_both_shapes() -> None:
    assert _id_taken(*_error_of(answer(V2_196)))
    assert _id_taken(*_error_of(answer(OLDER)))
    assert not _id_taken(*_error_of(answer(OTHER)))
    assert not _id_taken(*_error_of(answer(b"upstream timed out")))
