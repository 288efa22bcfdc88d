"""JSON bodies read strictly: exactly the documented types, or a 4xx that names the field.

Litestar decodes a body into plain Python values and then converts them laxly ("1e2"
becomes 100, 100.0 an int, a JSON number a float). Here the body is decoded once,
straight into the type the handler declares, with msgspec's strict rules; a body that is
not JSON (or not UTF-8, or nested absurdly deep) is a 400, a body sent as anything but
`application/json` a 415 — so an HTML form on another site (`text/plain`) cannot post one.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import Empty

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED = re.compile(r"(?:required|unknown) field `([^`]+)`")


class UnsupportedMediaType(HTTPException):
    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def decode_strict(body: bytes, target: Any) -> Any:
    """`body` as `target`, or a 400 naming the field and the rule."""
    try:
        return msgspec.json.decode(body or b"null", type=target, strict=True)
    except msgspec.ValidationError as error:
        raise _invalid(str(error)) from None
    except msgspec.DecodeError as error:
        raise ValidationException(detail=f"the body is not valid JSON: {error}") from None
    except UnicodeDecodeError:
        raise ValidationException(detail="the body is not valid UTF-8") from None
    except RecursionError:
        raise ValidationException(detail="the body is nested too deeply") from None


def _invalid(message: str) -> ValidationException:
    found = _PATH.search(message)
    text = _PATH.sub("", message)
    key = found.group(1) if found and found.group(1) else None
    named = _NAMED.search(text)
    if key is None and named:
        key = named.group(1)
    key = key or "body"
    return ValidationException(
        detail=f"{key}: {text}", extra=[{"key": key, "message": text, "source": "body"}]
    )


class StrictRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        content_type = self.headers.get("content-type", "")
        if not is_json(content_type):
            raise UnsupportedMediaType(
                detail=f"send the body as application/json (got {content_type[:80]!r})"
            )
        field = self.route_handler.parsed_data_field
        target = field.annotation if field is not None else Any
        self._json = decode_strict(await self.body(), target)
        return self._json
