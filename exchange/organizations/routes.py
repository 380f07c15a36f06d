"""HTTP routes of organizations, members, API keys and /v1/me."""

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Cursor, IfMatch, Limit, RequestId, decode_cursor, etag, page_of, problems
from exchange.kernel.ratelimit import limit_registrations
from exchange.kernel.schemas import PLAIN_TEXT, Page
from exchange.organizations import service
from exchange.organizations.schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    MemberCreate,
    MemberOut,
    MemberWithKeyOut,
    MeOut,
    NewApiKeyOut,
    OperatorCreate,
    OperatorOut,
    OperatorWithKeyOut,
    OrganizationCreate,
    OrganizationOut,
    OrganizationUpdate,
    OrgStatus,
    ReasonIn,
    RegistrationOut,
    VerifyDecision,
)

Search = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=PLAIN_TEXT, description="Part of the name, tax code or an email, any case"),
]


def with_etag(out: OrganizationOut) -> Response[OrganizationOut]:
    """Serve a profile with its version as ETag."""
    return Response(out, headers={"ETag": etag(out.version)})


class OrganizationController(Controller):
    """Organizations and their members."""

    path = "/v1/organizations"
    tags = ["organizations"]

    @post(
        "/",
        guards=[limit_registrations],
        responses=problems(400, 409, 413, 422),
        summary="Register an organization",
    )
    async def register(self, conn: Conn, request_id: RequestId, data: JSONBody[OrganizationCreate]) -> RegistrationOut:
        """Register an institute, enterprise or broker; returns its owner's first API key, shown once."""
        return await service.register(conn, data, request_id)

    @get("/", security=BEARER, guards=KEYED, responses=problems(400, 401, 403), summary="Organizations by status")
    async def list_orgs(
        self,
        conn: Conn,
        principal: Caller,
        status: FromQuery[OrgStatus | None] = None,
        q: Search = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[OrganizationOut]:
        """Operators list organizations oldest first, by status (status=pending_verification is the verification queue), matching q on name, tax code or email."""
        rows = await service.list_orgs(conn, principal, status, q, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, lambda r: service.org_out(r, principal))

    @get("/{org_id:uuid}", responses=problems(400, 404), summary="Public profile")
    async def get_org(self, conn: Conn, principal: Caller, org_id: FromPath[UUID]) -> Response[OrganizationOut]:
        """An organization's public profile."""
        return with_etag(await service.get_org(conn, principal, org_id))

    @patch(
        "/{org_id:uuid}",
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404, 412, 422),
        summary="Edit profile",
    )
    async def update_org(
        self,
        conn: Conn,
        principal: Caller,
        org_id: FromPath[UUID],
        data: JSONBody[OrganizationUpdate],
        if_match: IfMatch = None,
    ) -> Response[OrganizationOut]:
        """Edit the profile (owner); a new name or tax code needs verification again."""
        return with_etag(await service.update_org(conn, principal, org_id, data, if_match))

    @post(
        "/{org_id:uuid}/verify",
        status_code=200,
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Verify",
    )
    async def verify(
        self,
        conn: Conn,
        principal: Caller,
        request_id: RequestId,
        org_id: FromPath[UUID],
        data: JSONBody[VerifyDecision | None] = None,
    ) -> Response[OrganizationOut]:
        """Reviewers (and admins) verify (default) or reject, with a reason, an organization pending verification."""
        return with_etag(await service.verify(conn, principal, org_id, data or VerifyDecision(), request_id))

    @post(
        "/{org_id:uuid}/suspend",
        status_code=200,
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Suspend (admins)",
    )
    async def suspend(
        self,
        conn: Conn,
        principal: Caller,
        request_id: RequestId,
        org_id: FromPath[UUID],
        data: JSONBody[ReasonIn | None] = None,
    ) -> Response[OrganizationOut]:
        """Admins suspend an organization, with a reason: its published listings leave publication and search at once, and its keys may no longer write."""
        return with_etag(await service.suspend(conn, principal, org_id, data, request_id))

    @post(
        "/{org_id:uuid}/reinstate",
        status_code=200,
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Reinstate (admins)",
    )
    async def reinstate(
        self,
        conn: Conn,
        principal: Caller,
        request_id: RequestId,
        org_id: FromPath[UUID],
        data: JSONBody[ReasonIn | None] = None,
    ) -> Response[OrganizationOut]:
        """Admins reinstate a suspended organization, with a reason: its status before the suspension returns, and its unexpired listings are published again."""
        return with_etag(await service.reinstate(conn, principal, org_id, data, request_id))

    @post(
        "/{org_id:uuid}/members",
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Add a member",
    )
    async def add_member(
        self, conn: Conn, principal: Caller, request_id: RequestId, org_id: FromPath[UUID], data: JSONBody[MemberCreate]
    ) -> MemberWithKeyOut:
        """The owner adds a member; returns the member's first API key, shown once."""
        return await service.add_member(conn, principal, org_id, data, request_id)

    @get(
        "/{org_id:uuid}/members",
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 404),
        summary="List members",
    )
    async def list_members(
        self, conn: Conn, principal: Caller, org_id: FromPath[UUID], limit: Limit = 20, cursor: Cursor = None
    ) -> Page[MemberOut]:
        """The organization's current members, for its members and operators."""
        rows = await service.list_members(conn, principal, org_id, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.member_out)


class MemberController(Controller):
    """Members by id, keys and the caller itself."""

    tags = ["organizations"]
    security = BEARER
    guards = KEYED

    @delete("/v1/members/{member_id:uuid}", responses=problems(400, 401, 403, 404, 409), summary="Remove a member")
    async def remove_member(
        self, conn: Conn, principal: Caller, request_id: RequestId, member_id: FromPath[UUID]
    ) -> None:
        """The owner removes a member; its keys stop working at once."""
        await service.remove_member(conn, principal, member_id, request_id)

    @post("/v1/api-keys", responses=problems(400, 401, 403, 422), summary="Create an API key")
    async def create_key(
        self, conn: Conn, principal: Caller, request_id: RequestId, data: JSONBody[ApiKeyCreate]
    ) -> NewApiKeyOut:
        """Create another key for oneself; the secret is shown once."""
        return await service.create_key(conn, principal, data, request_id)

    @get("/v1/api-keys", responses=problems(401), summary="List own API keys")
    async def list_keys(self, conn: Conn, principal: Caller) -> list[ApiKeyOut]:
        """One's own current keys (never their secrets)."""
        return await service.list_keys(conn, principal)

    @delete("/v1/api-keys/{key_id:uuid}", responses=problems(400, 401, 403, 404), summary="Revoke an API key")
    async def revoke_key(self, conn: Conn, principal: Caller, request_id: RequestId, key_id: FromPath[UUID]) -> None:
        """Revoke one of one's own keys; it stops working at once."""
        await service.revoke_key(conn, principal, key_id, request_id)

    @get("/v1/me", responses=problems(401), summary="The caller")
    async def me(self, conn: Conn, principal: Caller) -> MeOut:
        """The member behind the key, its organization and role."""
        return await service.me(conn, principal)


class OperatorController(Controller):
    """The exchange's operators, managed by its admins."""

    path = "/v1/operators"
    tags = ["operators"]
    security = BEARER
    guards = KEYED

    @post("/", responses=problems(400, 401, 403, 409, 422), summary="Add an operator (admins)")
    async def add_operator(
        self, conn: Conn, principal: Caller, request_id: RequestId, data: JSONBody[OperatorCreate]
    ) -> OperatorWithKeyOut:
        """Admins add an operator in a role (admin, reviewer or finance); returns its first API key, shown once."""
        return await service.add_operator(conn, principal, data, request_id)

    @get("/", responses=problems(400, 401, 403), summary="List operators (admins)")
    async def list_operators(
        self, conn: Conn, principal: Caller, limit: Limit = 20, cursor: Cursor = None
    ) -> Page[OperatorOut]:
        """The current operators and their roles, oldest first."""
        rows = await service.list_operators(conn, principal, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.operator_out)

    @delete("/{member_id:uuid}", responses=problems(400, 401, 403, 404, 409), summary="Remove an operator (admins)")
    async def remove_operator(
        self, conn: Conn, principal: Caller, request_id: RequestId, member_id: FromPath[UUID]
    ) -> None:
        """Admins remove an operator; its keys stop working at once. The last admin cannot be removed."""
        await service.remove_operator(conn, principal, member_id, request_id)
