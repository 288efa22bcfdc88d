"""Behind a TLS proxy (`PUBLIC_URL=https://…`): cookies are Secure, the public host is served."""

from __future__ import annotations

from litestar.testing import TestClient

from app.settings import Settings
from app.web.app import create_app
from tests.support.access import ADMIN_KEY, signed


def csrf_token(html: str) -> str:
    return html.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]


def test_the_csrf_cookie_is_secure_only_when_served_over_https(settings: Settings) -> None:
    with signed(TestClient(create_app(settings))) as plain:
        assert "secure" not in plain.get("/").headers["set-cookie"].lower()
    public = settings.replace(public_url="https://engine.example.com", allowed_hosts=())
    with signed(
        TestClient(create_app(public), base_url="https://engine.example.com")
    ) as behind_tls:
        cookie = behind_tls.get("/").headers["set-cookie"].lower()
        assert "csrftoken=" in cookie
        assert "secure" in cookie
        assert behind_tls.get("/healthz").status_code == 200
        assert behind_tls.get("/healthz", headers={"host": "other.example"}).status_code == 400


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(settings: Settings) -> None:
    public = settings.replace(public_url="https://engine.example.com", allowed_hosts=())
    with TestClient(create_app(public), base_url="https://engine.example.com") as browser:
        token = csrf_token(browser.get("/login").text)
        signed_in = browser.post(
            "/login",
            data={"_csrf_token": token, "apiKey": ADMIN_KEY, "next": "/"},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        session = next(
            c for c in signed_in.headers.get_list("set-cookie") if c.startswith("oee_session=")
        ).lower()
        assert "httponly" in session
        assert "samesite=lax" in session
        assert "secure" in session
