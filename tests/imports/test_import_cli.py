"""`exchange import FILE --kind offers --key KEY`: the file sent, its progress followed, refused rows printed."""

import asyncio
import os
import sys

from exchange.kernel import db
from tests.conftest import served
from tests.imports.test_imports import csv_offer, offers_csv
from tests.support import operator_key, verified_org


async def exchange_import(*args: str) -> tuple[int, str]:
    """Run the command in its own process, as a user would; its exit code and what it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "exchange.cli",
        "import",
        *args,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode()


async def test_the_cli_imports_a_file_and_prints_each_refused_row(settings, client, tmp_path):
    conn = await db.connect(settings.database_url)
    try:
        operator = await operator_key(conn)
        _, key = await verified_org(client, operator)
        file = tmp_path / "catalogue.csv"
        file.write_bytes(offers_csv([csv_offer(external_id="C-1"), csv_offer(external_id="C-2", trl="ten")]))
        async with served(settings) as url:
            code, printed = await exchange_import(str(file), "--kind", "offers", "--key", key, "--url", url)
            assert code == 1, printed
            assert "row 2: trl:" in printed
            assert "2 rows, 1 created, 0 already there, 1 refused" in printed

            file.write_bytes(offers_csv([csv_offer(external_id="C-1")]))
            code, printed = await exchange_import(str(file), "--kind", "offers", "--key", key, "--url", url)
            assert code == 0, printed
            assert "1 rows, 0 created, 1 already there, 0 refused" in printed
        assert await conn.fetchval("SELECT count(*) FROM listings WHERE external_id = 'C-1'") == 1
    finally:
        await conn.close()
