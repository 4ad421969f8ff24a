"""Request and response models of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

PASSWORD_MIN = 10
PASSWORD_MAX = 128
# A few long-enough passwords that every cracking list starts with.
_COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "password1234",
        "password12345",
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "qwerty12345",
        "qwerty123456",
        "iloveyou123",
        "abc1234567",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "administrator",
        "letmein1234",
        "welcome123",
        "p@ssw0rd123",
    }
)


def _character_classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not (c.isascii() and c.isalnum()) for c in password),
        )
    )


def password_problem(password: str, email: str | None) -> str | None:
    """Why ``password`` is not acceptable, or None. Messages never repeat the password."""
    if len(password) < PASSWORD_MIN:
        return f"Password must be at least {PASSWORD_MIN} characters."
    if len(password) > PASSWORD_MAX:
        return f"Password must be at most {PASSWORD_MAX} characters."
    # Non-ASCII letters (e.g. Chinese) count as "other", so a Chinese passphrase plus a
    # digit passes; a password of one character class only does not.
    if _character_classes(password) < 2:
        return "Password must mix at least two of: lower case, upper case, digits, other characters."
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS or len(set(password)) < 4:
        return "Password is too common or too repetitive."
    if email:
        # Not the address, and not containing it or its name part ("alice2024!" for alice@…): the
        # first thing an attacker who knows the login tries. Names under 3 letters are too short to count.
        address = email.lower()
        local = address.split("@", 1)[0]
        if address in lowered or (len(local) >= 3 and local in lowered):
            return "Password must not contain your email address."
    return None


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: EmailStr = Field(max_length=254, description="Email address; the login name (case-insensitive).")
    # max_length makes pydantic refuse a 10 kB password before anything hashes it.
    password: str = Field(min_length=1, max_length=PASSWORD_MAX, description="10-128 characters, two classes.")
    name: str | None = Field(None, max_length=100, description="Display name.")
    company: str | None = Field(None, max_length=200, description="Company name.")
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+()\- .]{3,32}$", description="Phone number.")

    @model_validator(mode="after")
    def _password_policy(self) -> RegisterRequest:
        problem = password_problem(self.password, str(self.email))
        if problem:
            raise ValueError(problem)
        return self


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str = Field(min_length=1, max_length=254, description="The account's email address.")
    password: str = Field(min_length=1, max_length=PASSWORD_MAX, description="The password.")


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=16, max_length=256, description="The refresh token from login or refresh.")


class LogoutRequest(BaseModel):
    refresh_token: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        description="The session to end (its whole refresh-token family); omitted = every session of the caller.",
    )


class TokenResponse(BaseModel):
    access_token: str = Field(description="Bearer token for the Authorization header (JWT, HS256).")
    refresh_token: str = Field(description="Opaque, single-use token for POST /auth/refresh.")
    token_type: Literal["bearer"] = Field("bearer", description="Always 'bearer'.")
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserOut(BaseModel):
    id: str = Field(description="User id (UUID).")
    email: str
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    role: Literal["user", "admin"]
    tier: Literal["free", "pro", "enterprise"]
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null at the end.")


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "admin"] | None = Field(None, description="New role.")
    tier: Literal["free", "pro", "enterprise"] | None = Field(None, description="New tier.")
    is_active: bool | None = Field(None, description="False disables the account and ends its sessions.")
    name: str | None = Field(None, max_length=100)

    @field_validator("is_active", "role", "tier", mode="before")
    @classmethod
    def _no_null(cls, v: object) -> object:
        if v is None:
            raise ValueError("must not be null")
        return v


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the key is for.")

    @field_validator("name")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v


class ApiKeyOut(BaseModel):
    id: str = Field(description="Key id (UUID).")
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None = Field(
        None, description="Last time the gateway authorized a request with it (minute resolution)."
    )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown only in this response; store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]
