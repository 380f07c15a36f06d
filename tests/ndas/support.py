"""What the NDA and licence tests share: setting an offer's NDA and accepting its current version."""

import hashlib
from typing import Any

from tests.support import bearer

NDA_TEXT = "The recipient keeps the membrane supplier and the carrier mix confidential for five years."


def sha256_of(text: str) -> str:
    """The hex SHA-256 of a text in UTF-8, as a client computes it."""
    return hashlib.sha256(text.encode()).hexdigest()


async def set_nda(client: Any, key: str, offer_id: str, text: str = NDA_TEXT, required: bool = True) -> dict[str, Any]:
    """The offer's owner sets its NDA; return it."""
    response = await client.put(
        f"/v1/offers/{offer_id}/nda", json={"text": text, "required": required}, headers=bearer(key)
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def accept_nda(client: Any, key: str, offer_id: str) -> dict[str, Any]:
    """Read the offer's NDA and accept its current version; return the acceptance."""
    nda = await client.get(f"/v1/offers/{offer_id}/nda", headers=bearer(key))
    assert nda.status_code == 200, nda.text
    body = {"version": nda.json()["version"], "sha256": nda.json()["sha256"]}
    accepted = await client.post(f"/v1/offers/{offer_id}/nda/accept", json=body, headers=bearer(key))
    assert accepted.status_code in (200, 201), accepted.text
    return accepted.json()
