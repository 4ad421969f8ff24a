"""Routes of the auth API: /auth/* and the admin's /users."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import ValidationError

from authorizer_app import logic
from authorizer_app.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    RegisterRequest,
    TokenResponse,
    UserOut,
    UserPage,
    UserPatch,
)
from claw_common.auth.caller import Caller
from claw_common.errors import Forbidden, ValidationFailed
from claw_common.http.app import api_router
from claw_common.http.client_ip import client_ip
from claw_common.http.pagination import Cursor, Limit
from claw_common.http.security import AdminDep, CallerDep

router = api_router()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _session(session: logic.Session) -> TokenResponse:
    return TokenResponse(
        access_token=session.access_token, refresh_token=session.refresh_token, expires_in=session.expires_in
    )


def _user(user: Any) -> UserOut:
    return UserOut(**user.as_dict())


def _source_ip(request: Request) -> str:
    return client_ip(request.scope)


def _validation_error(exc: ValidationError) -> ValidationFailed:
    errors = [
        {"loc": ["body", *map(str, e.get("loc", ()))], "msg": str(e.get("msg", ""))[:300], "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return ValidationFailed(
        "The request is not valid: " + "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]),
        errors=errors,
    )


async def login_form(request: Request) -> LoginRequest:
    """The credentials as JSON ``{email, password}`` or as an OAuth2 password form
    (``username``, ``password``), whichever the content type says."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in FORM_TYPES:
            form = await request.form()
            data: Any = {"email": form.get("username") or form.get("email"), "password": form.get("password")}
        else:
            data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("The body must be JSON or a form.", errors=[]) from exc
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be an object with email and password.", errors=[])
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                }
            },
        },
    }
}


@router.post("/auth/register", status_code=201, response_model=UserOut, tags=["auth"], summary="Create an account")
def register(body: RegisterRequest) -> UserOut:
    ctx = logic.auth_context()
    user = logic.register(
        ctx, email=str(body.email), password=body.password, name=body.name, company=body.company, phone=body.phone
    )
    return _user(user)


@router.post("/auth/login", response_model=TokenResponse, tags=["auth"], summary="Sign in", openapi_extra=_LOGIN_BODY)
def login(request: Request, credentials: Annotated[LoginRequest, Depends(login_form)]) -> TokenResponse:
    ctx = logic.auth_context()
    session = logic.login(
        ctx,
        logic.login_throttle(ctx),
        email=credentials.email,
        password=credentials.password,
        ip=_source_ip(request),
    )
    return _session(session)


@router.post("/auth/refresh", response_model=TokenResponse, tags=["auth"], summary="Rotate the refresh token")
def refresh(body: RefreshRequest) -> TokenResponse:
    return _session(logic.refresh(logic.auth_context(), body.refresh_token))


@router.post("/auth/logout", status_code=204, tags=["auth"], summary="End a session (or all of them)")
def logout(caller: CallerDep, body: LogoutRequest | None = None) -> Response:
    logic.logout(logic.auth_context(), user_id=caller.user_id, refresh_token=body.refresh_token if body else None)
    return Response(status_code=204)


@router.get("/auth/me", response_model=UserOut, tags=["auth"], summary="The caller's account")
def me(caller: CallerDep) -> UserOut:
    return logic.get_profile(logic.auth_context(), caller.user_id)


def _password_session(caller: Caller) -> Caller:
    # A leaked API key must not be able to mint more keys or delete the owner's others.
    if caller.auth_method == "api_key":
        raise Forbidden("API keys cannot manage API keys; sign in with your password.")
    return caller


@router.post(
    "/auth/api-keys", status_code=201, response_model=ApiKeyCreated, tags=["api-keys"], summary="Create an API key"
)
def create_api_key(caller: CallerDep, body: ApiKeyCreate) -> ApiKeyCreated:
    return logic.create_api_key(logic.auth_context(), user_id=_password_session(caller).user_id, name=body.name)


@router.get("/auth/api-keys", response_model=ApiKeyList, tags=["api-keys"], summary="The caller's API keys")
def list_api_keys(caller: CallerDep) -> ApiKeyList:
    return logic.list_api_keys(logic.auth_context(), caller.user_id)


@router.delete("/auth/api-keys/{key_id}", status_code=204, tags=["api-keys"], summary="Revoke an API key")
def delete_api_key(caller: CallerDep, key_id: str) -> Response:
    logic.revoke_api_key(logic.auth_context(), user_id=_password_session(caller).user_id, key_id=key_id.lower())
    return Response(status_code=204)


@router.get("/users", response_model=UserPage, tags=["admin"], summary="All users, newest first (admin)")
def list_users(
    _admin: AdminDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> UserPage:
    users, next_cursor = logic.list_users(logic.auth_context(), limit=limit, cursor=cursor)
    return UserPage(items=[_user(u) for u in users], next_cursor=next_cursor)


@router.get("/users/{user_id}", response_model=UserOut, tags=["admin"], summary="One user (admin)")
def get_user(_admin: AdminDep, user_id: str) -> UserOut:
    return _user(logic.get_user(logic.auth_context(), user_id.lower()))


@router.patch("/users/{user_id}", response_model=UserOut, tags=["admin"], summary="Change role, tier, active (admin)")
def patch_user(admin: AdminDep, user_id: str, body: UserPatch) -> UserOut:
    changes = body.model_dump(exclude_unset=True)
    user = logic.update_user(logic.auth_context(), actor_id=admin.user_id, user_id=user_id.lower(), changes=changes)
    return _user(user)
