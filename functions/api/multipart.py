"""multipart/form-data bodies (the Phonexia upload), parsed in memory with ``python-multipart``.

API Gateway has already capped the body at 10 MB; the whole body is in memory anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from diarist.domain.errors import ValidationFailed


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Building:
    headers: dict[str, str] = field(default_factory=dict)
    data: bytearray = field(default_factory=bytearray)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed([{"field": "body", "message": message}])


def parse_multipart(body: bytes, content_type: str | None) -> dict[str, Part]:
    """The parts by field name. Raises ValidationFailed (400) on a bad body, and on a field sent
    twice (naming it): which of two ``file`` parts counts would be the parser's choice."""
    ctype, params = parse_options_header(content_type or "")
    if ctype.lower() != b"multipart/form-data":
        raise ValidationFailed([{"field": "Content-Type", "message": "must be multipart/form-data"}])
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 70:
        raise ValidationFailed(
            [{"field": "Content-Type", "message": "multipart boundary missing or too long"}]
        )

    parts: list[Part] = []
    cur = _Building()

    def on_part_begin() -> None:
        nonlocal cur
        cur = _Building()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        cur.data += data[start:end]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        cur.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        cur.header_value += data[start:end]

    def on_header_end() -> None:
        cur.headers[cur.header_field.decode("latin-1").lower()] = cur.header_value.decode("utf-8", "replace")
        cur.header_field.clear()
        cur.header_value.clear()

    def on_part_end() -> None:
        disp, dparams = parse_options_header(cur.headers.get("content-disposition", ""))
        if disp.lower() != b"form-data" or b"name" not in dparams:
            raise _bad("each part needs 'Content-Disposition: form-data; name=...'")
        filename = dparams.get(b"filename")
        parts.append(
            Part(
                name=dparams[b"name"].decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=cur.headers.get("content-type"),
                data=bytes(cur.data),
            )
        )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
        max_header_count=16,
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as e:
        raise _bad(f"malformed multipart body: {e}") from None
    if parser.state != MultipartState.END:
        raise _bad("malformed multipart body: it ends before the closing boundary")
    out: dict[str, Part] = {}
    for p in parts:
        if p.name in out:
            raise ValidationFailed(
                [{"field": p.name, "message": f"more than one {p.name!r} part: send each field once"}]
            )
        out[p.name] = p
    return out
