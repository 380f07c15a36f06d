"""HTTP routes of mail: one's notification settings, and the one-click unsubscribe of an email's link."""

import html
from typing import Annotated

from litestar import Controller, Request, Response, get, post, put
from litestar.params import JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, problems
from exchange.mail import service
from exchange.mail.schemas import NotificationSettings, NotificationSettingsOut, UnsubscribedOut

Token = Annotated[str | None, QueryParameter(description="The signed token of the email's List-Unsubscribe link")]


class NotificationSettingsController(Controller):
    """The caller's own email settings."""

    path = "/v1/me/notifications/settings"
    tags = ["mail"]
    security = BEARER
    guards = KEYED

    @get("/", responses=problems(400, 401), summary="Your notification settings")
    async def get_settings(self, conn: Conn, principal: Caller) -> NotificationSettingsOut:
        """Whether you get email, in which language, matches at once or as a daily digest, and about which topics."""
        return service.to_out(await service.get_settings(conn, principal))

    @put("/", responses=problems(400, 401, 413, 422), summary="Change your notification settings")
    async def put_settings(
        self, conn: Conn, principal: Caller, data: JSONBody[NotificationSettings]
    ) -> NotificationSettingsOut:
        """Change your settings: the fields given; a field left out keeps its value."""
        return service.to_out(await service.put_settings(conn, principal, data))


@post(
    "/v1/unsubscribe",
    tags=["mail"],
    status_code=200,
    responses=problems(400, 404, 422),
    summary="Unsubscribe from one topic (one click)",
    opt={"accepts_form": True},
)
async def unsubscribe(request: Request, conn: Conn, token: Token = None) -> UnsubscribedOut:
    """For anyone with the token of an email's link (RFC 8058 one-click POST, no key): turns that topic off for that member."""
    return await service.unsubscribe(conn, request.app.state.settings, token)


_PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>Techmart</title></head>
<body style="font-family: Arial, sans-serif; max-width: 480px; margin: 40px auto;">
<p>Ngừng nhận thư về “{topic}”? / Stop emails about “{topic}”?</p>
<form method="post" action="/v1/unsubscribe?token={token}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Ngừng nhận / Unsubscribe</button>
</form>
</body></html>
"""


@get(
    "/v1/unsubscribe",
    tags=["mail"],
    media_type="text/html; charset=utf-8",
    responses=problems(400, 422),
    summary="Confirm unsubscribing (changes nothing)",
)
async def confirm_unsubscribe(request: Request, token: Token = None) -> Response[str]:
    """A page with one button that POSTs the token; following the link alone (as mail scanners do) changes nothing."""
    topic = service.check_token(request.app.state.settings, token)
    page = _PAGE.format(topic=html.escape(topic), token=html.escape(token or "", quote=True))
    return Response(page, media_type="text/html; charset=utf-8", headers={"cache-control": "no-store"})
