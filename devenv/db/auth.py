"""Seeded auth users, created through GoTrue's admin API so they are real users that can log in.

The contract (supabase/auth ``internal/api/admin.go``): requests carry the service_role JWT as
``Authorization: Bearer`` (GoTrue checks its role against GOTRUE_JWT_ADMIN_ROLES) and as ``apikey``
(what Kong's key-auth reads when the URL goes through the gateway's ``/auth/v1``).

- ``POST /admin/users`` ``{email, password, email_confirm, user_metadata, app_metadata, id?}`` ->
  200 and the user (``id``); 422 ``email_exists`` for a taken email; 400 for a bad id. A taken id
  is a 500 carrying Postgres' unique violation as is (v2.196.0: ``{"code":"23505","message":
  "duplicate key value violates unique constraint \"users_pkey\"", ...}``, no
  ``X-Supabase-Api-Version`` header); older releases said "Database error creating new user".
- ``PUT /admin/users/{id}`` updates the same fields; 404 ``user_not_found``.
- ``DELETE /admin/users/{id}`` -> 200 ``{}``.

Passwords and keys never appear in messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devenv.errors import DatabaseError

if TYPE_CHECKING:
    from devenv.stack.handle import Stack


class AuthSeedError(DatabaseError):
    """A seeded auth user could not be created, updated or is malformed."""


@dataclass(frozen=True)
class AuthTarget:
    """Where GoTrue's API is: its own URL (``http://127.0.0.1:54326``) or the gateway's
    ``{SUPABASE_URL}/auth/v1``, and the service_role key."""

    gotrue_url: str
    service_role_key: str = field(repr=False)

    @classmethod
    def from_env_values(cls, values: dict[str, str]) -> AuthTarget | None:
        """From ``Stack.env_values``: GoTrue's own port if published, else Kong's."""
        key = values.get("SUPABASE_SERVICE_ROLE_KEY")
        if not key:
            return None
        if values.get("GOTRUE_URL"):
            return cls(values["GOTRUE_URL"], key)
        if values.get("SUPABASE_URL"):
            return cls(values["SUPABASE_URL"].rstrip("/") + "/auth/v1", key)
        return None


def target_for(stack: Stack) -> AuthTarget | None:
    """Where a stack's seeded auth users are created: DEVENV_GOTRUE_URL +
    DEVENV_SERVICE_ROLE_KEY, else the stack's GoTrue (its own port, else through Kong), else
    None."""
    from devenv.errors import StackError

    if stack.env.gotrue_url and stack.env.service_role_key:
        return AuthTarget(stack.env.gotrue_url, stack.env.service_role_key)
    if "gotrue" not in stack.cfg.services or stack.env.external_database:
        return None
    try:
        return AuthTarget.from_env_values(stack.env_values())
    except StackError:
        return None


@dataclass(frozen=True)
class SeedUser:
    email: str
    password: str = field(repr=False)
    id: str | None = None
    user_metadata: dict[str, Any] = field(default_factory=dict)
    app_metadata: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    source: str = ""  # file:entry, for messages

    def body(self) -> dict[str, Any]:
        b: dict[str, Any] = {
            "email": self.email,
            "password": self.password,
            "email_confirm": True,
            "user_metadata": self.user_metadata,
            "app_metadata": self.app_metadata,
        }
        if self.phone:
            b["phone"] = self.phone
            b["phone_confirm"] = True
        return b


_KEYS = {"email", "password", "id", "user_metadata", "app_metadata", "phone"}


def parse_users(path: Path, data: object) -> list[SeedUser]:
    """Validate the parsed content of an ``auth.users.{yaml,json}`` file: a list of users."""
    if not isinstance(data, list):
        raise AuthSeedError(
            f"{path}: expected a list of users (each with email and password)",
            "see seeds/default/auth.users.yaml for the format",
        )
    users: list[SeedUser] = []
    emails: dict[str, int] = {}
    ids: dict[str, int] = {}
    for i, entry in enumerate(data, 1):
        where = f"{path}: user {i}"
        if not isinstance(entry, dict):
            raise AuthSeedError(f"{where}: expected a mapping with email and password")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise AuthSeedError(
                f"{where}: unknown field {', '.join(map(repr, unknown))}",
                f"known fields: {', '.join(sorted(_KEYS))}",
            )
        email = entry.get("email")
        password = entry.get("password")
        if not isinstance(email, str) or "@" not in email:
            raise AuthSeedError(f"{where}: 'email' must be an email address")
        if not isinstance(password, str) or len(password) < 6:
            raise AuthSeedError(
                f"{where} ({email}): 'password' must be a string of at least 6 characters",
                "GoTrue rejects shorter passwords",
            )
        norm = email.strip().lower()
        if norm in emails:
            raise AuthSeedError(
                f"{where}: duplicate email {email} (also user {emails[norm]})",
                "each seeded user needs its own email",
            )
        emails[norm] = i
        uid = entry.get("id")
        if uid is not None:
            try:
                uid = str(uuid.UUID(str(uid)))
            except ValueError:
                raise AuthSeedError(f"{where} ({email}): 'id' {uid!r} is not a UUID") from None
            if uid in ids:
                raise AuthSeedError(f"{where}: duplicate id {uid} (also user {ids[uid]})")
            ids[uid] = i
        for meta in ("user_metadata", "app_metadata"):
            if meta in entry and not isinstance(entry[meta], dict):
                raise AuthSeedError(f"{where} ({email}): '{meta}' must be a mapping")
        phone = entry.get("phone")
        if phone is not None and not isinstance(phone, str):
            raise AuthSeedError(f"{where} ({email}): 'phone' must be a string")
        users.append(
            SeedUser(
                email=norm,
                password=password,
                id=uid,
                user_metadata=dict(entry.get("user_metadata") or {}),
                app_metadata=dict(entry.get("app_metadata") or {}),
                phone=phone,
                source=where,
            )
        )
    return users


class GoTrueAdmin:
    """A small client for the admin endpoints devenv needs."""

    def __init__(self, target: AuthTarget, *, timeout: float = 15.0):
        import httpx

        self.target = target
        self._client = httpx.Client(
            base_url=target.gotrue_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {target.service_role_key}",
                "apikey": target.service_role_key,
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GoTrueAdmin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        try:
            return self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise AuthSeedError(
                f"cannot reach GoTrue at {self.target.gotrue_url}: {type(exc).__name__}: {exc}",
                "is the stack's gotrue service up? check `devenv status`",
            ) from None

    def create(self, user: SeedUser) -> str:
        """Create ``user``; return its id. A taken email raises :class:`DuplicateEmail`."""
        body = user.body()
        if user.id:
            body["id"] = user.id
        r = self._send("POST", "/admin/users", body)
        if r.status_code == 200:
            return str(r.json()["id"])
        code, msg = _error_of(r)
        if r.status_code == 422 and (code == "email_exists" or "already been registered" in msg):
            raise DuplicateEmail(
                f"{user.source}: an auth user with email {user.email} already exists in GoTrue",
                "seeded emails must be unique across seed sets and not taken by other users;"
                " change it, or start over with `devenv db reset`",
            )
        if user.id and r.status_code == 500 and _id_taken(code, msg):
            raise AuthSeedError(
                f"{user.source} ({user.email}): GoTrue could not create the user with id"
                f" {user.id} ({msg}); the id is probably taken by another user",
                "give the user another id, or start over with `devenv db reset`",
            )
        raise self._failed("create", user, r.status_code, msg)

    def update(self, user_id: str, user: SeedUser) -> bool:
        """Bring an existing user in line with ``user``; False if it no longer exists."""
        r = self._send("PUT", f"/admin/users/{user_id}", user.body())
        if r.status_code == 200:
            return True
        if r.status_code == 404:
            return False
        _, msg = _error_of(r)
        raise self._failed("update", user, r.status_code, msg)

    def delete(self, user_id: str) -> bool:
        r = self._send("DELETE", f"/admin/users/{user_id}")
        return bool(r.status_code in (200, 204, 404))

    def _failed(self, what: str, user: SeedUser, status: int, msg: str) -> AuthSeedError:
        hint = "check the seed file"
        if status in (401, 403):
            hint = "the service_role key was refused: is it the stack's key (`devenv status`)?"
        return AuthSeedError(
            f"{user.source} ({user.email}): GoTrue refused to {what} the user: HTTP {status}"
            f" {msg}".rstrip(),
            hint,
        )


class DuplicateEmail(AuthSeedError):
    pass


def _id_taken(code: str, msg: str) -> bool:
    """A 500 from ``POST /admin/users`` that means the requested id is already a user's."""
    if code == "23505" and "users_pkey" in msg:  # unique_violation on auth.users' primary key
        return True
    return "creating new user" in msg  # the generic wording of older GoTrue releases


def _error_of(r: Any) -> tuple[str, str]:
    """(error_code, message) from any of GoTrue's error body shapes."""
    try:
        data = r.json()
    except ValueError:
        return "", r.text[:200].strip()
    if not isinstance(data, dict):
        return "", str(data)[:200]
    code = data.get("error_code") or (data.get("code") if isinstance(data.get("code"), str) else "")
    msg = (
        data.get("msg")
        or data.get("message")
        or data.get("error_description")
        or data.get("error")
        or ""
    )
    return str(code or ""), str(msg)
