"""GET /v1/stats/export?format=csv: the figures of GET /v1/stats, one per row, for finance operators."""

import csv
import io

from tests.parties import agreed_deal, parties
from tests.support import bearer, operator_key


def _figures(body: str) -> dict[tuple[str, str], str]:
    reader = csv.reader(io.StringIO(body))
    assert next(reader) == ["period", "measure", "dimension", "value"]
    figures = {}
    for period, measure, dimension, value in reader:
        assert (measure, dimension) not in figures, f"{measure}/{dimension} twice"
        figures[(measure, dimension)] = value
        assert period
    return figures


async def test_the_csv_export_gives_every_figure_of_the_stats_once(client, conn):
    p = await parties(client, conn)
    await agreed_deal(client, p, amount=700_000_000)
    finance = await operator_key(conn, "finance@exchange.example.vn", role="finance")

    answer = await client.get("/v1/stats/export?format=csv", headers=bearer(finance))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith('attachment; filename="techmart-stats-')
    stats = (await client.get("/v1/stats")).json()
    figures = _figures(answer.text)

    assert figures[("offers_vs_demands.offers", "")] == str(stats["offers_vs_demands"]["offers"]) == "1"
    assert figures[("listings.by_status", "published")] == "2"
    for sector, count in stats["listings"]["by_sector"].items():
        assert figures[("listings.by_sector", sector)] == str(count)
    for province, count in stats["listings"]["by_province"].items():
        assert figures[("listings.by_province", province)] == str(count)
    assert figures[("deals.by_stage", "agreed")] == "1"
    assert figures[("deals.agreed_value_vnd", "")] == "700000000"
    assert figures[("deal_room.deals_by_origin.negotiated.agreed_value_vnd", "")] == "700000000"
    # A rate before any decision is absent in the JSON (null) and empty in the CSV.
    assert stats["interests"]["acceptance_rate"] is None and figures[("interests.acceptance_rate", "")] == ""
    periods = {row[0] for row in list(csv.reader(io.StringIO(answer.text)))[1:]}
    assert stats["as_of"][:10] in periods


async def test_only_finance_operators_and_admins_export_and_the_format_is_checked(client, conn):
    p = await parties(client, conn)
    reviewer = await operator_key(conn, "reviewer@exchange.example.vn", role="reviewer")
    assert (await client.get("/v1/stats/export?format=csv")).status_code == 401
    assert (await client.get("/v1/stats/export?format=csv", headers=bearer(p.seller))).status_code == 403
    assert (await client.get("/v1/stats/export?format=csv", headers=bearer(reviewer))).status_code == 403
    assert (await client.get("/v1/stats/export?format=csv", headers=bearer(p.operator))).status_code == 200

    wrong = await client.get("/v1/stats/export?format=xlsx", headers=bearer(p.operator))
    assert wrong.status_code == 400
    assert "format" in wrong.text
