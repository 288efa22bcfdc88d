"""Behind a TLS proxy (`PUBLIC_URL=https://…`): cookies are Secure, the public host is served."""

from __future__ import annotations

from litestar.testing import TestClient

from app.settings import Settings
from app.web.app import create_app


def test_the_csrf_cookie_is_secure_only_when_served_over_https(settings: Settings) -> None:
    with TestClient(create_app(settings)) as plain:
        assert "secure" not in plain.get("/").headers["set-cookie"].lower()
    public = settings.replace(public_url="https://engine.example.com", allowed_hosts=())
    with TestClient(create_app(public), base_url="https://engine.example.com") as behind_tls:
        cookie = behind_tls.get("/").headers["set-cookie"].lower()
        assert "csrftoken=" in cookie
        assert "secure" in cookie
        assert behind_tls.get("/healthz").status_code == 200
        assert behind_tls.get("/healthz", headers={"host": "other.example"}).status_code == 400
