"""The records of an import file (CSV or JSON Lines), and each record as the API body it stands for."""

import csv
import io
from typing import Any

import msgspec
from msgspec import inspect

from exchange.kernel.errors import UnsupportedMediaType, decode_error_field, field_error
from exchange.kernel.schemas import FieldError

CSV_TYPES = frozenset({"text/csv"})
JSONL_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
        "application/json",
    }
)
# Types that say nothing of the format (curl's default, a browser's upload of an unknown file): the file name's suffix
# decides, else its first character.
GENERIC_TYPES = frozenset(
    {"", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "application/vnd.ms-excel"}
)
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
LIST_SEPARATOR = ";"
MAX_ROWS = 10_000
# The key under which a CSV row keeps cells past the header's last column.
EXTRA = ""


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One record as it arrived: a CSV row as a JSON object of its cells, or a JSON line as sent."""

    row: int
    record: str
    external_id: str | None


def format_of(content_type: str | None, body: bytes, filename: str | None = None) -> str:
    """`csv` or `jsonl` from the Content-Type, or for a generic type from the file name or first character; else 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in CSV_TYPES:
        return "csv"
    if media in JSONL_TYPES:
        return "jsonl"
    if media in GENERIC_TYPES:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
        if suffix in SUFFIXES:
            return SUFFIXES[suffix]
        return "jsonl" if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else "csv"
    raise UnsupportedMediaType("content-type: an import is text/csv or application/x-ndjson (JSON Lines)")


def records(body: bytes, fmt: str, create_type: type) -> list[Record]:
    """Every record of a file, numbered; a file that cannot be read at all is a 422 naming `body` or the header."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise field_error("body", "the file is not UTF-8 text") from None
    found = _csv_records(text, create_type) if fmt == "csv" else _jsonl_records(text)
    if not found:
        raise field_error("body", "the file has no rows")
    if len(found) > MAX_ROWS:
        raise field_error("body", f"at most {MAX_ROWS} rows per import")
    return found


def delimiter_of(text: str) -> str:
    """`,`, or `;` when the header row has no comma but a semicolon (a spreadsheet saving CSV in a Vietnamese locale)."""
    first = text.split("\n", 1)[0]
    return ";" if "," not in first and ";" in first else ","


def _csv_records(text: str, create_type: type) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    header = [name.strip() for name in next(reader, [])]
    _check_header(header, create_type)
    found: list[Record] = []
    for number, cells in enumerate(reader, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        values = dict(zip(header, cells, strict=False))
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            values[EXTRA] = "x"
        external_id = values.get("external_id", "").strip() or None
        found.append(Record(row=number, record=msgspec.json.encode(values).decode(), external_id=external_id))
    return found


def _check_header(header: list[str], create_type: type) -> None:
    fields = {f.encode_name for f in msgspec.structs.fields(create_type)}
    if not any(header):
        raise field_error("header", "the first row must name the columns")
    for name in header:
        if not name or name.split(".", 1)[0] not in fields:
            raise field_error("header", f"unknown column `{name}`")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise field_error("header", f"column `{repeated[0]}` appears twice")


def _jsonl_records(text: str) -> list[Record]:
    if text.lstrip().startswith("["):
        return _array_records(text)
    found: list[Record] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = msgspec.json.decode(line)
        except msgspec.DecodeError:
            value = None
        found.append(Record(row=number, record=line, external_id=_external_id(value)))
    return found


def _array_records(text: str) -> list[Record]:
    """A JSON array of create bodies; row n is the array's nth item."""
    try:
        items = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise field_error("body", f"the JSON array cannot be read: {exc}") from None
    found: list[Record] = []
    for number, value in enumerate(items, start=1):
        found.append(Record(row=number, record=msgspec.json.encode(value).decode(), external_id=_external_id(value)))
    return found


def _external_id(value: object) -> str | None:
    """A decoded record's external_id, when it has a usable one."""
    found = value.get("external_id") if isinstance(value, dict) else None
    return (found.strip() or None) if isinstance(found, str) else None


def body_of(record: Record, fmt: str, create_type: type) -> tuple[Any, list[FieldError]]:
    """The record as the create body it stands for, or the fields that keep it from being one."""
    try:
        if fmt == "jsonl":
            return msgspec.json.decode(record.record, type=create_type), []
        cells = msgspec.json.decode(record.record)
        if EXTRA in cells:
            return None, [FieldError(field="row", message="more cells than the header has columns")]
        return msgspec.convert(nested(cells, list_paths(create_type)), create_type, strict=False), []
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return None, [decode_error_field(exc)]


def nested(cells: dict[str, str], lists: frozenset[str]) -> dict[str, Any]:
    """CSV cells as a body: `price.amount` nests, list columns split on `;`, an empty cell is not given."""
    body: dict[str, Any] = {}
    for name, cell in cells.items():
        value: Any = cell.strip()
        if not value:
            continue
        if name in lists:
            value = [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
        *parents, leaf = name.split(".")
        target = body
        for parent in parents:
            target = target.setdefault(parent, {})
            if not isinstance(target, dict):
                break
        else:
            target[leaf] = value
    return body


def list_paths(struct_type: type, prefix: str = "") -> frozenset[str]:
    """The dotted names of a Struct's list fields, nested Structs included."""
    found: set[str] = set()
    for field in inspect.type_info(struct_type).fields:
        name = f"{prefix}{field.encode_name}"
        for kind in _alternatives(field.type):
            if isinstance(kind, inspect.ListType):
                found.add(name)
            elif isinstance(kind, inspect.StructType):
                found |= list_paths(kind.cls, f"{name}.")
    return frozenset(found)


def _alternatives(kind: inspect.Type) -> list[inspect.Type]:
    if isinstance(kind, inspect.Metadata):
        kind = kind.type
    if isinstance(kind, inspect.UnionType):
        return [t.type if isinstance(t, inspect.Metadata) else t for t in kind.types]
    return [kind]
