"""Signing in and out of the dashboard, and the admins' keys page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.domain.access import Principal, Scope, parse_scopes
from app.services.access import SESSION_SECONDS, Issued
from app.web.auth import SESSION_COOKIE, Caller, requires
from app.web.context import Web, WebContext
from app.web.guards import CSP


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//evil.example` or a full URL)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return parts.path + (f"?{parts.query}" if parts.query else "") if not parts.netloc else "/"


def _signed_in(web: WebContext, principal: Caller, target: str) -> Redirect:
    cookie = Cookie(
        key=SESSION_COOKIE,
        value=web.access.session_for(principal),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=web.settings.https,
    )
    return Redirect(_safe_next(target), status_code=303, cookies=[cookie])


class AccountController(Controller):
    include_in_schema = False
    response_headers = [ResponseHeader(name="Content-Security-Policy", value=CSP)]

    @get("/login")
    async def login_page(
        self, web: Web, next: FromQuery[str | None] = None, token: FromQuery[str | None] = None
    ) -> Template | Redirect:
        """The sign-in form; with `?token=`, a one-time link signs straight in."""
        if token:
            principal = await web.access.redeem(token)
            if principal is not None:
                return _signed_in(web, principal, next or "/")
            return _login(next, "This sign-in link has expired or was already used.", 400)
        return _login(next, None, 200)

    @post("/login")
    async def login(self, request: Request[Any, Any, Any], web: Web) -> Template | Redirect:
        form = await request.form()
        key, target = str(form.get("apiKey", "")).strip(), str(form.get("next", "/"))
        principal = await web.access.by_key(key) if key else None
        if principal is None:
            return _login(target, "That key is not valid (or has been revoked).", 401)
        return _signed_in(web, principal, target)

    @post("/logout")
    async def logout(self) -> Redirect:
        gone = Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/", httponly=True)
        return Redirect("/login", status_code=303, cookies=[gone])

    @get("/keys", guards=[requires(Scope.ADMIN)])
    async def keys_page(self, web: Web, principal: Caller) -> Template:
        return await _keys_page(web, principal)

    @post("/keys", guards=[requires(Scope.ADMIN)])
    async def create_key(
        self, request: Request[Any, Any, Any], web: Web, principal: Caller
    ) -> Template:
        form = await request.form()
        name = str(form.get("name", "")).strip()[:100]
        try:
            scopes = parse_scopes([str(s) for s in form.getall("scopes", [])])
        except ValueError as error:
            return await _keys_page(web, principal, error=str(error), status=400)
        if not name:
            return await _keys_page(web, principal, error="Give the key a name.", status=400)
        issued = await web.access.issue(name, scopes)
        return await _keys_page(web, principal, issued=issued, status=201)

    @post("/keys/{key_id:str}/revoke", guards=[requires(Scope.ADMIN)])
    async def revoke_key(self, key_id: FromPath[str], web: Web) -> Redirect:
        await web.access.revoke(key_id)
        return Redirect("/keys", status_code=303)


def _login(target: str | None, error: str | None, status: int) -> Template:
    return Template(
        "pages/login.html",
        context={"page": "login", "next": _safe_next(target), "error": error},
        status_code=status,
    )


async def _keys_page(
    web: WebContext,
    viewer: Principal,
    *,
    issued: Issued | None = None,
    error: str | None = None,
    status: int = 200,
) -> Template:
    return Template(
        "pages/keys.html",
        context={
            "page": "keys",
            "viewer": viewer,
            "keys": await web.access.keys(),
            "scopes": [s.value for s in Scope],
            "webhooks": await web.webhooks.of(viewer.owner_filter),
            "issued": issued,
            "error": error,
        },
        status_code=status,
    )
