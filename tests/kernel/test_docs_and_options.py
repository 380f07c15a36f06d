import re

import pytest

DOCS_PAGES = ["/schema", "/schema/swagger"]
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", DOCS_PAGES)
async def test_the_interactive_docs_load_everything_from_the_service_itself(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
    assert any(u.endswith(".css") for u in urls), urls
    for url in urls:
        # Same origin, same service: no CDN, no scheme-relative address.
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
        assert CONTENT_TYPES[url[url.rfind(".") :]] in asset.headers["content-type"], url


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


async def test_options_lists_every_method_of_each_path_without_a_key(client):
    document = (await client.get("/schema/openapi.json")).json()
    for path, item in document["paths"].items():
        methods = {m.upper() for m in item if m in ("get", "put", "post", "patch", "delete", "head")}
        response = await client.options(_concrete(path))
        assert response.status_code == 204, (path, response.text)
        allow = {m.strip() for m in response.headers["allow"].split(",")}
        assert allow == methods | {"OPTIONS"}, path
    assert (await client.options("/v1/no-such-thing")).status_code == 404
