"""POST /v1/imports and GET /v1/imports/{id}: files of good, bad and repeated rows, through the real outbox consumer."""

import csv
import io
import json
from typing import Any

from tests.matching.waiting import until
from tests.parties import member_key
from tests.support import bearer, demand_body, offer_body, operator_key, register, verified_org

CSV_TYPE = {"Content-Type": "text/csv"}
JSONL_TYPE = {"Content-Type": "application/x-ndjson"}


def offers_csv(rows: list[dict[str, str]]) -> bytes:
    """A CSV file with the columns of the first row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def csv_offer(**cells: str) -> dict[str, str]:
    """One CSV row of a complete offer, with nested and list columns."""
    body = offer_body()
    row = {
        "external_id": "",
        "title": body["title"],
        "description": body["description"],
        "sector": body["sector"],
        "language": "vi",
        "keywords": ";".join(body["keywords"]),
        "transfer_modes": "license;consulting",
        "trl": "7",
        "price.amount": "850000000",
        "price.currency": "VND",
        "contact.name": "TS. Nguyễn Văn An",
    }
    row.update(cells)
    return row


async def post_import(client: Any, key: str, body: bytes, kind: str = "offers", dry_run: bool = False, **headers: str):
    """POST a file; return the answer."""
    params = {"kind": kind, "dry_run": str(dry_run).lower()}
    return await client.post("/v1/imports", params=params, content=body, headers=bearer(key) | headers)


async def finished(client: Any, key: str, import_id: str) -> dict[str, Any]:
    """The import once it has ended."""

    async def probe() -> dict[str, Any]:
        return (await client.get(f"/v1/imports/{import_id}", headers=bearer(key))).json()

    return await until(probe, lambda body: body.get("status") in ("done", "failed"), "the import's end", 60.0)


async def own_listings(client: Any, key: str, kind: str = "offers") -> list[dict[str, Any]]:
    """Every listing of the caller's organization."""
    answer = await client.get(f"/v1/{kind}", params={"mine": "true", "limit": 100}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


async def test_a_csv_makes_drafts_of_good_rows_and_reports_each_bad_one(client, conn):
    operator = await operator_key(conn)
    org, key = await verified_org(client, operator)
    file = offers_csv(
        [
            csv_offer(external_id="A-1"),
            csv_offer(external_id="A-2", trl="eleven"),
            csv_offer(external_id="A-3", sector="not-a-sector"),
            csv_offer(external_id="A-4", title="Màng lọc nano cho nước giếng khoan", keywords="màng;nano;giếng"),
            csv_offer(external_id="A-1", title="Một dòng lặp lại mã của dòng 1"),
        ]
    )
    answer = await post_import(client, key, file, **CSV_TYPE)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    assert answer.headers["location"] == f"/v1/imports/{answer.json()['id']}"

    done = await finished(client, key, answer.json()["id"])
    assert done["status"] == "done"
    assert (done["total"], done["processed"], done["created"], done["skipped"]) == (5, 5, 2, 0)
    by_row = {e["row"]: e for e in done["errors"]}
    assert sorted(by_row) == [2, 3, 5]
    assert by_row[2]["field"] == "trl"
    assert by_row[3]["field"] == "sector"
    assert by_row[5]["field"] == "external_id" and "row 1" in by_row[5]["message"]

    mine = await own_listings(client, key)
    assert sorted(o["external_id"] for o in mine) == ["A-1", "A-4"]
    assert {o["status"] for o in mine} == {"draft"}
    assert {o["owner_org_id"] for o in mine} == {org["organization"]["id"]}
    nano = next(o for o in mine if o["external_id"] == "A-4")
    assert nano["keywords"] == ["màng", "nano", "giếng"]
    assert nano["price"] == {"amount": 850_000_000, "currency": "VND"}
    assert nano["contact"]["name"] == "TS. Nguyễn Văn An"
    # A draft made by an import is made as POST makes it: its change is in the feed and the outbox.
    changes = await conn.fetchval("SELECT count(*) FROM listing_changes WHERE listing_id = $1::uuid", nano["id"])
    assert changes == 1


async def test_a_re_import_of_the_same_file_creates_nothing_twice(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    lines = [
        json.dumps(offer_body(external_id=f"CAT-{i}", title=f"Công nghệ số {i} cho nông nghiệp")) for i in range(3)
    ]
    file = "\n".join(lines).encode()

    first = await finished(client, key, (await post_import(client, key, file, **JSONL_TYPE)).json()["id"])
    assert (first["created"], first["skipped"], first["errors"]) == (3, 0, [])
    again = await finished(client, key, (await post_import(client, key, file, **JSONL_TYPE)).json()["id"])
    assert (again["created"], again["skipped"], again["errors"]) == (0, 3, [])
    assert len(await own_listings(client, key)) == 3

    # Another organization may use the same external ids for listings of its own.
    _, other = await verified_org(client, operator)
    theirs = await finished(client, other, (await post_import(client, other, file, **JSONL_TYPE)).json()["id"])
    assert theirs["created"] == 3


async def test_json_lines_name_the_line_and_field_of_each_bad_row(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator, kind="enterprise")
    file = "\n".join(
        [
            json.dumps(demand_body()),
            "",
            "{not json",
            json.dumps(demand_body(budget_max={"amount": -5, "currency": "VND"})),
            json.dumps(demand_body(colour="blue")),
        ]
    ).encode()
    done = await finished(client, key, (await post_import(client, key, file, "demands", **JSONL_TYPE)).json()["id"])
    assert (done["total"], done["created"]) == (4, 1)
    fields = {e["row"]: e["field"] for e in done["errors"]}
    assert fields == {3: "body", 4: "budget_max.amount", 5: "colour"}
    assert len(await own_listings(client, key, "demands")) == 1


async def test_a_dry_run_validates_every_row_and_creates_nothing(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    file = offers_csv([csv_offer(external_id="D-1"), csv_offer(external_id="D-2", description="")])
    done = await finished(client, key, (await post_import(client, key, file, dry_run=True, **CSV_TYPE)).json()["id"])
    assert done["dry_run"] is True
    assert (done["valid"], done["created"]) == (1, 0)
    assert [(e["row"], e["field"]) for e in done["errors"]] == [(2, "description")]
    assert await own_listings(client, key) == []
    assert await conn.fetchval("SELECT count(*) FROM listings") == 0


async def test_a_file_that_cannot_be_read_is_refused_at_once_and_leaves_nothing(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    unknown = await post_import(client, key, b"title,colour\nA title,blue\n", **CSV_TYPE)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "header" and "colour" in unknown.json()["errors"][0]["message"]
    empty = await post_import(client, key, b"title,description,sector\n", **CSV_TYPE)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    wrong_type = await post_import(client, key, b"{}", **{"Content-Type": "application/pdf"})
    assert wrong_type.status_code == 415
    bad_kind = await post_import(client, key, b"title\nx\n", "patents", **CSV_TYPE)
    assert bad_kind.status_code == 400 and "kind" in bad_kind.text
    assert await conn.fetchval("SELECT count(*) FROM imports") == 0


async def test_only_editors_of_an_owning_kind_import_and_only_their_organization_reads_it(client, conn):
    operator = await operator_key(conn)
    org, key = await verified_org(client, operator)
    file = offers_csv([csv_offer()])
    viewer = await member_key(client, key, org["organization"]["id"], "viewer")
    assert (await post_import(client, viewer, file, **CSV_TYPE)).status_code == 403
    # Institutes offer technologies; they post no demands.
    demands = "\n".join([json.dumps(demand_body())]).encode()
    assert (await post_import(client, key, demands, "demands", **JSONL_TYPE)).status_code == 403
    assert (await client.post("/v1/imports?kind=offers", content=file, headers=CSV_TYPE)).status_code == 401

    started = await post_import(client, key, file, **CSV_TYPE)
    import_id = started.json()["id"]
    await finished(client, key, import_id)
    _, stranger = await register(client)
    assert (await client.get(f"/v1/imports/{import_id}", headers=bearer(stranger))).status_code == 404
    assert (await client.get(f"/v1/imports/{import_id}", headers=bearer(viewer))).status_code == 200
    assert (await client.get(f"/v1/imports/{import_id}", headers=bearer(operator))).status_code == 200

    # The list: one's organization's imports, newest first, a page at a time; a stranger's list holds none of them.
    dry = await post_import(client, key, file, dry_run=True, **CSV_TYPE)
    await finished(client, key, dry.json()["id"])
    page = (await client.get("/v1/imports", params={"limit": 1}, headers=bearer(viewer))).json()
    assert [i["id"] for i in page["items"]] == [dry.json()["id"]] and page["next_cursor"]
    rest = (await client.get("/v1/imports", params={"cursor": page["next_cursor"]}, headers=bearer(viewer))).json()
    assert [i["id"] for i in rest["items"]] == [import_id] and rest["next_cursor"] is None
    assert rest["items"][0]["created"] == 1 and rest["items"][0]["status"] == "done"
    assert (await client.get("/v1/imports", headers=bearer(stranger))).json()["items"] == []
    everyone = (await client.get("/v1/imports", headers=bearer(operator))).json()["items"]
    assert {import_id, dry.json()["id"]} <= {i["id"] for i in everyone}
    assert (await client.get("/v1/imports")).status_code == 401


async def test_an_external_id_names_one_listing_per_organization_through_the_api_too(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    first = await client.post("/v1/offers", json=offer_body(external_id="X-9"), headers=bearer(key))
    assert first.status_code == 201 and first.json()["external_id"] == "X-9"
    second = await client.post("/v1/offers", json=offer_body(external_id="X-9"), headers=bearer(key))
    assert second.status_code == 409 and second.json()["errors"][0]["field"] == "external_id"
    _, stranger = await register(client)
    assert "external_id" not in (await client.get(f"/v1/offers/{first.json()['id']}", headers=bearer(stranger))).json()


async def test_a_form_upload_a_json_array_and_a_semicolon_csv_import_like_the_plain_bodies(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    params = {"kind": "offers"}
    uploaded = await client.post(
        "/v1/imports",
        params=params,
        files={"file": ("catalogue.csv", offers_csv([csv_offer(external_id="U-1")]), "application/vnd.ms-excel")},
        headers=bearer(key),
    )
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["format"] == "csv"
    array = json.dumps([offer_body(external_id="U-2"), offer_body(external_id="U-3", trl=12)]).encode()
    as_json = await post_import(client, key, array, **{"Content-Type": "application/json"})
    assert as_json.status_code == 202, as_json.text
    # Saved by a spreadsheet in a Vietnamese locale: `;` between cells, so a list cell is quoted.
    row = csv_offer(external_id="U-4")
    header = ";".join(row)
    cells = ";".join(f'"{value}"' for value in row.values())
    semicolons = await post_import(client, key, f"{header}\n{cells}\n".encode(), **{"Content-Type": "text/plain"})
    assert semicolons.status_code == 202, semicolons.text

    done = [await finished(client, key, a.json()["id"]) for a in (uploaded, as_json, semicolons)]
    assert [(d["total"], d["created"]) for d in done] == [(1, 1), (2, 1), (1, 1)]
    assert [(e["row"], e["field"]) for e in done[1]["errors"]] == [(2, "trl")]
    mine = {o["external_id"]: o for o in await own_listings(client, key)}
    assert sorted(mine) == ["U-1", "U-2", "U-4"]
    assert mine["U-4"]["keywords"] == offer_body()["keywords"] and mine["U-4"]["transfer_modes"] == [
        "license",
        "consulting",
    ]

    two_files = await client.post(
        "/v1/imports",
        params=params,
        files=[("a", ("a.csv", b"title\nx\n", "text/csv")), ("b", ("b.csv", b"title\ny\n", "text/csv"))],
        headers=bearer(key),
    )
    assert two_files.status_code == 422 and two_files.json()["errors"][0]["field"] == "file"
