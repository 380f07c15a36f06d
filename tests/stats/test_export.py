"""GET /v1/stats/export?format=csv: the figures of GET /v1/stats, one per row, for finance operators."""

import csv
import io

from tests.parties import agreed_deal, parties
from tests.support import bearer, operator_key


def _figures(body: str) -> dict[tuple[str, str], str]:
    """The cumulative figures by (measure, dimension); each figure of the series over time once per period."""
    reader = csv.reader(io.StringIO(body))
    assert next(reader) == ["period", "measure", "dimension", "value"]
    figures = {}
    seen = set()
    for period, measure, dimension, value in reader:
        assert (period, measure, dimension) not in seen, f"{period} {measure}/{dimension} twice"
        seen.add((period, measure, dimension))
        if not measure.startswith("over_time."):
            figures[(measure, dimension)] = value
        assert period
    return figures


def _series(body: str) -> dict[tuple[str, str], str]:
    """The rows of the series over time by (period, measure)."""
    return {
        (period, measure): value
        for period, measure, _, value in list(csv.reader(io.StringIO(body)))[1:]
        if measure.startswith("over_time.")
    }


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


async def test_the_csv_export_gives_the_monthly_series_of_agreed_value_and_fees(client, conn):
    p = await parties(client, conn)
    earlier = await agreed_deal(client, p, amount=400_000_000)
    await agreed_deal(client, p, amount=700_000_000)
    # One deal agreed three months ago, and a fee invoiced for it then.
    await conn.execute(
        "UPDATE deals SET agreed_at = date_trunc('month', now()) - interval '3 months' + interval '2 days'"
        " WHERE id = $1::uuid",
        earlier["id"],
    )
    await conn.execute(
        """INSERT INTO invoices (deal_id, org_id, party, instalment, instalments, amount, fee_schedule_version,
                                 created_at)
           VALUES ($1::uuid, $2::uuid, 'buyer', 1, 1, 6000000, 1,
                   date_trunc('month', now()) - interval '3 months' + interval '3 days')""",
        earlier["id"],
        p.buyer_org["id"],
    )
    finance = await operator_key(conn, "finance@exchange.example.vn", role="finance")

    stats = (await client.get("/v1/stats")).json()
    series = stats["over_time"]
    assert len(series) == 4, series
    assert [m["period"] for m in series] == sorted(m["period"] for m in series)
    assert series[0]["agreed_value"] == {"amount": 400_000_000, "currency": "VND"}
    assert series[0]["fees"] == {"amount": 6_000_000, "currency": "VND"}
    assert series[1]["agreed_value"]["amount"] == series[2]["agreed_value"]["amount"] == 0
    assert series[-1]["period"] == stats["as_of"][:7]
    assert series[-1]["agreed_value"]["amount"] == 700_000_000 and series[-1]["fees"]["amount"] == 0

    answer = await client.get("/v1/stats/export?format=csv", headers=bearer(finance))
    rows = _series(answer.text)
    for month in series:
        assert rows[(month["period"], "over_time.agreed_value_vnd")] == str(month["agreed_value"]["amount"])
        assert rows[(month["period"], "over_time.fees_vnd")] == str(month["fees"]["amount"])
    assert len(rows) == 2 * len(series)
    # The cumulative figures still count for the snapshot's date.
    assert _figures(answer.text)[("deals.agreed_value_vnd", "")] == "1100000000"
