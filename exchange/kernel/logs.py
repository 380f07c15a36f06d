"""Process logging: one JSON object per line (readable text on a terminal), secrets masked, libraries quiet."""

import logging
import re
import sys
from datetime import UTC, datetime

import msgspec

# Whatever looks like a secret this service holds is masked wherever it appears: API keys, webhook and Stripe secrets,
# PaymentIntent client secrets, and any bearer token (the Meilisearch key travels as one).
_SECRET = re.compile(
    r"\b(tmx_|whsec_|[sr]k_(?:test|live)_)[A-Za-z0-9_-]+"
    r"|\b(pi_[A-Za-z0-9]+_secret_)[A-Za-z0-9]+"
    r"|\b(bearer\s+)[^\s'\",]+",
    re.IGNORECASE,
)
# Extra fields whose name says they hold a secret are masked whatever their value looks like.
_SECRET_FIELD = re.compile(r"authorization|secret|api_key|password|token", re.IGNORECASE)
MASK = "***"
# The attributes every LogRecord has; anything else on a record was given with `extra=` and is logged as a field.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# Libraries that log a line per HTTP call (every Meilisearch task poll, every Stripe request) at INFO.
LIBRARY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "meilisearch_python_sdk", "stripe", "hpack", "asyncio")


def mask(text: str) -> str:
    """The text with every secret-looking token replaced by its prefix and ***."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, text)


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {
        key: MASK if _SECRET_FIELD.search(key) else value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _masked(value: object) -> object:
    return mask(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's extra fields, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        line.update({key: _masked(value) for key, value in _fields(record).items()})
        if record.exc_info:
            line["exception"] = mask(self.formatException(record.exc_info))
        return msgspec.json.encode(line, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    """A readable line for a person at a terminal, the extra fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        return mask(super().format(record) + (f" [{fields}]" if fields else ""))


def configure(level: str = "INFO", log_format: str = "auto") -> None:
    """Log to stderr as JSON lines (text when log_format is "text", or "auto" and stderr is a terminal)."""
    text = log_format == "text" or (log_format == "auto" and sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
