"""GoTrue (Supabase Auth): the endpoints and token shapes the app's auth client relies on.

Error bodies are GoTrue's ``{"code": N, "error_code": "...", "msg": "..."}`` (its
apierrors.HTTPError); access tokens carry its AccessTokenClaims (aud, role, sub, email, exp,
session_id ...). Every user a check makes is deleted again with the service_role key.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from devenv.contracts.core import CheckFailed, Skip, Suite, check, expect, expect_eq, register
from devenv.contracts.suites import _http
from devenv.stack.health import PROBE_EMAIL

if TYPE_CHECKING:
    import httpx

#: A password GoTrue's default policy (6+ characters) accepts.
PASSWORD = "Contract-check-pw-1"


def new_email(tag: str) -> str:
    return f"devenv-contract-{tag}-{uuid.uuid4().hex[:10]}@example.com"


@register
class GoTrueSuite(Suite):
    service = "gotrue"

    def unavailable(self) -> str | None:
        if not self.target.auth_url:
            return "no GoTrue URL (GOTRUE_URL or SUPABASE_URL) for this target"
        if not self.target.anon_key:
            return "no anon key (SUPABASE_ANON_KEY) for this target"
        return None

    @property
    def http(self) -> httpx.Client:
        # The apikey header is what Kong wants; GoTrue itself ignores it.
        return self.http_client("http", self.target.auth_url, {"apikey": self.target.anon_key})

    def admin_headers(self) -> dict[str, str]:
        key = self.target.service_role_key
        if not key:
            raise Skip("no service_role key (SUPABASE_SERVICE_ROLE_KEY) for this target")
        return {"apikey": key, "Authorization": f"Bearer {key}"}

    def close(self) -> None:
        made: list[str] = self.state.get("made", [])
        if made and self.target.service_role_key:
            for uid in made:
                try:
                    self.http.delete(f"/admin/users/{uid}", headers=self.admin_headers())
                except Exception:  # best effort: a down GoTrue already failed its checks
                    break
        super().close()

    def _signup(self, email: str) -> httpx.Response:
        return self.http.post("/signup", json={"email": email, "password": PASSWORD})

    def _remember(self, user: dict[str, Any]) -> None:
        uid = user.get("id")
        if isinstance(uid, str):
            self.state.setdefault("made", []).append(uid)

    # ------------------------------------------------------------------------------------------

    @check("health")
    def health(self) -> None:
        r = self.http.get("/health")
        _http.status(r, 200)
        body = _http.json_of(r)
        expect("version" in body and "name" in body, 'a body with "name" and "version"', body)

    @check("settings")
    def settings(self) -> None:
        r = self.http.get("/settings")
        _http.status(r, 200)
        body = _http.json_of(r)
        external = body.get("external")
        expect(
            isinstance(external, dict) and external.get("email") is True,
            'settings with "external": {"email": true}',
            body,
        )
        expect(
            "disable_signup" in body and "mailer_autoconfirm" in body,
            '"disable_signup" and "mailer_autoconfirm" in the settings',
            body,
        )

    @check("signup")
    def signup(self) -> None:
        email = new_email("signup")
        r = self._signup(email)
        _http.status(r, 200)
        body = _http.json_of(r)
        user = body.get("user") if "access_token" in body else body
        expect(
            isinstance(user, dict) and user.get("email") == email,
            f"the new user {email} in the body",
            body,
        )
        assert isinstance(user, dict)
        self._remember(user)
        self.state["email"], self.state["user_id"] = email, user.get("id")

    @check("password_login")
    def password_login(self) -> None:
        self.needs("signup")
        r = self.http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": self.state["email"], "password": PASSWORD},
        )
        _http.status(r, 200)
        body = _http.json_of(r)
        for key in ("access_token", "refresh_token", "expires_in", "expires_at", "user"):
            expect(key in body, f'"{key}" in the session', sorted(body))
        expect_eq(body.get("token_type"), "bearer", "token_type")
        user = body["user"]
        expect(
            isinstance(user, dict) and user.get("id") == self.state["user_id"],
            f"the session's user to be {self.state['user_id']}",
            user,
        )
        self.state["session"] = body

    @check("access_token_claims")
    def access_token_claims(self) -> None:
        self.needs("password_login")
        if not self.target.jwt_secret:
            raise Skip("no JWT secret (SUPABASE_JWT_SECRET) to verify tokens with")
        import jwt

        token = self.state["session"]["access_token"]
        try:
            claims = jwt.decode(
                token,
                self.target.jwt_secret,
                algorithms=["HS256"],
                audience="authenticated",
                options={"require": ["exp", "sub", "aud", "role"]},
            )
        except jwt.PyJWTError as exc:
            raise CheckFailed(
                f"expected a token signed with the project's JWT secret, got {exc}"
            ) from None
        expect_eq(claims.get("role"), "authenticated", "role")
        expect_eq(claims.get("sub"), self.state["user_id"], "sub")
        expect_eq(claims.get("email"), self.state["email"], "email")
        expect(
            isinstance(claims.get("session_id"), str) and claims["session_id"],
            "a session_id claim",
            sorted(claims),
        )
        now = time.time()
        expect(claims["exp"] > now, "exp in the future", claims["exp"])

    @check("refresh")
    def refresh(self) -> None:
        self.needs("password_login")
        old = self.state["session"]
        r = self.http.post(
            "/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": old["refresh_token"]},
        )
        _http.status(r, 200)
        body = _http.json_of(r)
        expect(
            body.get("access_token") and body.get("refresh_token"),
            "a new access and refresh token",
            sorted(body),
        )
        expect(
            body["refresh_token"] != old["refresh_token"],
            "a rotated refresh token",
            "the same refresh token",
        )
        self.state["session"] = body

    @check("user")
    def user(self) -> None:
        self.needs("password_login")
        token = self.state["session"]["access_token"]
        r = self.http.get("/user", headers={"Authorization": f"Bearer {token}"})
        _http.status(r, 200)
        body = _http.json_of(r)
        expect_eq(body.get("email"), self.state["email"], "email")
        expect_eq(body.get("id"), self.state["user_id"], "id")

    @check("logout")
    def logout(self) -> None:
        self.needs("password_login")
        session = self.state["session"]
        r = self.http.post(
            "/logout", headers={"Authorization": f"Bearer {session['access_token']}"}
        )
        _http.status(r, 204)
        # The session is over: its refresh token no longer works.
        again = self.http.post(
            "/token",
            params={"grant_type": "refresh_token"},
            json={"refresh_token": session["refresh_token"]},
        )
        expect(
            again.status_code in (400, 401, 403),
            "the refresh token to be refused after logout",
            _describe(again),
        )

    @check("admin_users")
    def admin_users(self) -> None:
        headers = self.admin_headers()
        email = new_email("admin")
        r = self.http.post(
            "/admin/users",
            headers=headers,
            # No password: hashing one costs GoTrue a bcrypt round, and this check is about the
            # admin API, not passwords (signup and password_login cover those).
            json={"email": email, "email_confirm": True},
        )
        _http.status(r, 200)
        body = _http.json_of(r)
        self._remember(body)
        uid = body.get("id")
        expect(
            isinstance(uid, str) and body.get("email") == email,
            f"the created user {email} with an id",
            body,
        )
        got = self.http.get(f"/admin/users/{uid}", headers=headers)
        _http.status(got, 200)
        gone = self.http.delete(f"/admin/users/{uid}", headers=headers)
        _http.status(gone, 200)
        self.state["made"].remove(uid)
        after = self.http.get(f"/admin/users/{uid}", headers=headers)
        _http.status(after, 404)

    @check("admin_requires_service_role")
    def admin_requires_service_role(self) -> None:
        key = self.target.anon_key
        r = self.http.get("/admin/users", headers={"apikey": key, "Authorization": f"Bearer {key}"})
        _http.status(r, 403)
        body = _http.json_of(r)
        expect_eq(body.get("error_code"), "not_admin", "error_code")
        expect_eq(body.get("msg"), "User not allowed", "msg")

    @check("wrong_password_error")
    def wrong_password_error(self) -> None:
        self.needs("signup")
        r = self.http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": self.state["email"], "password": PASSWORD + "-wrong"},
        )
        _http.status(r, 400)
        body = _http.json_of(r)
        expect_eq(body.get("error_code"), "invalid_credentials", "error_code")
        expect_eq(body.get("msg"), "Invalid login credentials", "msg")
        expect_eq(body.get("code"), 400, "code")

    @check("database")
    def database(self) -> None:
        """GoTrue's /health answers 200 with its database gone; a sign-in does not. An unknown
        address is answered 400 invalid_credentials only after the user table was read."""
        r = self.http.post(
            "/token",
            params={"grant_type": "password"},
            json={"email": PROBE_EMAIL, "password": PASSWORD},
        )
        if r.status_code >= 500:
            raise CheckFailed(
                f"a sign-in answered {_describe(r)}: GoTrue cannot query its database"
            )
        _http.status(r, 400)
        expect_eq(_http.json_of(r).get("error_code"), "invalid_credentials", "error_code")

    @check("duplicate_signup_error")
    def duplicate_signup_error(self) -> None:
        self.needs("signup")
        r = self._signup(self.state["email"])
        if r.status_code == 200:
            # With email confirmation on, GoTrue answers a duplicate with an obfuscated user so
            # addresses cannot be probed: the local stack confirms automatically and must not.
            body = _http.json_of(r)
            if body.get("user") is None and not body.get("identities"):
                raise Skip(
                    "the target confirms emails (mailer_autoconfirm off): GoTrue hides"
                    " duplicates there by design"
                )
        _http.status(r, 422)
        body = _http.json_of(r)
        expect_eq(body.get("error_code"), "user_already_exists", "error_code")
        expect_eq(body.get("msg"), "User already registered", "msg")


def _describe(resp: httpx.Response) -> str:
    from devenv.contracts.core import describe_response

    return describe_response(resp)
