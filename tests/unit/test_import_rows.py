"""Reading import files: CSV cells as API bodies, row numbers, and what makes a whole file unreadable."""

import msgspec
import pytest

from exchange.imports import rows
from exchange.kernel.errors import DomainError, UnsupportedMediaType
from listings.schemas import DemandCreate, OfferCreate


def test_list_columns_are_found_in_nested_structs_too():
    paths = rows.list_paths(OfferCreate)
    assert {"keywords", "transfer_modes", "patent_numbers", "strategic_groups"} <= paths
    assert "title" not in paths and "price.amount" not in paths
    assert "preferred_transfer_modes" in rows.list_paths(DemandCreate)


def test_cells_nest_split_and_leave_empty_ones_out():
    lists = rows.list_paths(OfferCreate)
    body = rows.nested({"price.amount": " 5 ", "keywords": "a; b ;;c", "summary": "  ", "title": "T"}, lists)
    assert body == {"price": {"amount": "5"}, "keywords": ["a", "b", "c"], "title": "T"}


def test_csv_rows_are_numbered_below_the_header_and_blank_ones_skipped():
    file = '\ufefftitle,external_id\nOne,E1\n,\n"Two,\nlines",E2\n'.encode()
    found = rows.records(file, "csv", OfferCreate)
    assert [(r.row, r.external_id) for r in found] == [(1, "E1"), (3, "E2")]


def test_a_csv_value_is_converted_and_a_bad_one_names_its_field():
    record = rows.records(b"title,description,sector,trl\nA title,Some text,101,nine\n", "csv", OfferCreate)[0]
    data, problems = rows.body_of(record, "csv", OfferCreate)
    assert data is None and [p.field for p in problems] == ["trl"]
    good = rows.records(b"title,description,sector,trl\nA title,Some text,101,9\n", "csv", OfferCreate)[0]
    data, problems = rows.body_of(good, "csv", OfferCreate)
    assert problems == [] and data.trl == 9


def test_extra_cells_past_the_header_are_a_row_error():
    record = rows.records(b"title,description\nA title,Text,surplus\n", "csv", OfferCreate)[0]
    _, problems = rows.body_of(record, "csv", OfferCreate)
    assert [p.field for p in problems] == ["row"]


def test_json_lines_keep_their_line_numbers():
    found = rows.records(b'{"title": "a", "external_id": "Z"}\n\n{bad\n', "jsonl", OfferCreate)
    assert [(r.row, r.external_id) for r in found] == [(1, "Z"), (3, None)]


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"\xff\xfe", "body"), (b"colour\nred\n", "header"), (b"title,title\na,b\n", "header"), (b"title\n", "body")],
)
def test_an_unreadable_file_names_what_is_wrong(body, field):
    with pytest.raises(DomainError) as caught:
        rows.records(body, "csv", OfferCreate)
    assert caught.value.errors[0].field == field


def test_the_content_type_picks_the_format_and_a_generic_one_the_name_or_first_character():
    assert rows.format_of("text/csv; charset=utf-8", b"{") == "csv"
    assert rows.format_of("application/x-ndjson", b"title") == "jsonl"
    assert rows.format_of("application/json", b"[") == "jsonl"
    assert rows.format_of("application/octet-stream", b"{", "catalogue.CSV") == "csv"
    assert rows.format_of("application/vnd.ms-excel", b"title,trl", "catalogue.csv") == "csv"
    assert rows.format_of(None, b'\xef\xbb\xbf\n {"title": 1}') == "jsonl"
    assert rows.format_of("text/plain", b"title,trl\n") == "csv"
    with pytest.raises(UnsupportedMediaType):
        rows.format_of("application/pdf", b"title\n")


def test_a_header_without_commas_but_with_semicolons_is_read_as_semicolon_separated():
    file = 'title;keywords;trl\n"Màng lọc";"màng; nano";7\n'.encode()
    record = rows.records(file, "csv", OfferCreate)[0]
    assert msgspec.json.decode(record.record) == {"title": "Màng lọc", "keywords": "màng; nano", "trl": "7"}
    assert rows.delimiter_of("title,keywords\na;b,c") == ","


def test_a_json_array_numbers_its_items_from_one():
    found = rows.records(b'[{"title": "a", "external_id": " X "}, 5, {"title": "b"}]', "jsonl", OfferCreate)
    assert [(r.row, r.external_id) for r in found] == [(1, "X"), (2, None), (3, None)]
    _, problems = rows.body_of(found[1], "jsonl", OfferCreate)
    assert problems and problems[0].field == "body"
    with pytest.raises(DomainError) as caught:
        rows.records(b"[{", "jsonl", OfferCreate)
    assert caught.value.errors[0].field == "body"
