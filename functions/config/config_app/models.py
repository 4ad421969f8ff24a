"""Request and response models of the config API (they also make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claw_common.config.schema import KEY_MAX_LENGTH, KEY_PATTERN

MASK = "********"
"""What a sensitive value looks like wherever it is not revealed."""

ConfigKey = Field(
    min_length=3,
    max_length=KEY_MAX_LENGTH,
    pattern=KEY_PATTERN,
    description="Namespaced key, e.g. `ai.default_model`: lower case, dot-separated.",
    examples=["ai.default_model"],
)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("value must not be null; delete the key instead")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigCreate(_Body):
    """A new config key."""

    key: str = ConfigKey
    value: Any = Field(description="Any JSON value; known keys must match their schema.")
    description: str = Field("", max_length=1000, description="What the key controls, for humans.")
    is_sensitive: bool = Field(False, description="Encrypt at rest and mask in every response, history and log.")
    is_public: bool = Field(False, description="Readable without authentication (never together with sensitive).")

    _value_not_null = field_validator("value")(_not_null)


class ConfigUpdate(_Body):
    """A change of an existing key; fields left out keep their value."""

    value: Any = Field(None, description="The new JSON value.")
    version: int | None = Field(
        None, ge=1, description="The version you read (or send it as `If-Match`); 409 when stale."
    )
    description: str | None = Field(None, max_length=1000)
    is_sensitive: bool | None = None
    is_public: bool | None = None


class RollbackRequest(_Body):
    """Restore the config as it was at ``version`` (a new version is written)."""

    version: int = Field(ge=1, description="The version to restore.")
    expected_version: int | None = Field(
        None, ge=1, description="The current version you expect (or `If-Match`); 409 when stale."
    )


class DeleteRequest(_Body):
    """Optional body of DELETE: the expected version."""

    version: int | None = Field(None, ge=1)


class ConfigOut(BaseModel):
    """A config as admins see it (sensitive values masked unless revealed)."""

    key: str
    value: Any = Field(description=f"The JSON value; `{MASK}` when sensitive and not revealed.")
    description: str
    is_sensitive: bool
    is_public: bool
    version: int = Field(description="Increases by one on every change; send it back to update.")
    updated_by: str = Field(description="user_id of the last writer.")
    updated_at: datetime
    created_at: datetime
    masked: bool = Field(False, description="True when `value` is the mask, not the value.")


class PublicConfigOut(BaseModel):
    """A public config as anyone sees it."""

    key: str
    value: Any
    description: str
    version: int
    updated_at: datetime


class ConfigPage(BaseModel):
    items: list[ConfigOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class PublicConfigPage(BaseModel):
    items: list[PublicConfigOut]
    next_cursor: str | None = None


class HistoryItem(BaseModel):
    """One change of one key."""

    version: int
    action: Literal["create", "update", "delete", "rollback", "import"]
    actor: str
    old_value: Any = Field(description=f"Value before the change (`{MASK}` when sensitive).")
    new_value: Any = Field(description=f"Value after the change (`{MASK}` when sensitive; null after delete).")
    at: datetime
    rolled_back_to: int | None = Field(None, description="For a rollback: the version restored.")
    is_sensitive: bool = False


class HistoryPage(BaseModel):
    items: list[HistoryItem]
    next_cursor: str | None = None


class AuditItem(BaseModel):
    """One audited action (writes, reveals, exports, imports, reloads)."""

    id: int
    at: datetime
    actor: str
    action: str
    key: str | None
    version: int | None
    detail: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditItem]
    next_cursor: str | None = None


class ReloadResult(BaseModel):
    dropped: int = Field(description="Cache entries dropped in Redis.")


class ExportRequest(_Body):
    """What to export."""

    reveal: bool = Field(False, description="Include sensitive values in clear (audited).")
    prefix: str | None = Field(None, max_length=KEY_MAX_LENGTH, description="Only keys starting with this.")
    keys: list[str] | None = Field(None, max_length=1000, description="Only these keys.")


class ExportItem(BaseModel):
    key: str
    value: Any
    description: str
    is_sensitive: bool
    is_public: bool
    version: int
    masked: bool = Field(False, description="Value is the mask; importing it keeps the stored value.")


class ExportDocument(BaseModel):
    exported_at: datetime
    revealed: bool
    items: list[ExportItem]


class ImportItem(_Body):
    """One key to import; fields left out keep the stored value (or their default for a new key)."""

    key: str = ConfigKey
    value: Any = None
    description: str | None = Field(None, max_length=1000)
    is_sensitive: bool | None = None
    is_public: bool | None = None
    masked: bool = Field(False, description="The value is an export's mask: keep the stored sensitive value.")
    # Exports carry the version; it is informational on import.
    version: int | None = Field(None, ge=1)


class ImportRequest(_Body):
    """Import configs: all or nothing, validated before anything is written."""

    mode: Literal["merge", "overwrite"] = Field(
        "merge", description="merge: create/update the items; overwrite: also delete every key not listed."
    )
    dry_run: bool = Field(False, description="Return the diff and write nothing.")
    prefix: str | None = Field(
        None,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        description="overwrite only: limit the deletion of unlisted keys to keys starting with this.",
    )
    items: list[ImportItem] = Field(max_length=1000)


class ImportChange(BaseModel):
    key: str
    action: Literal["create", "update", "delete"]
    old_value: Any
    new_value: Any
    version: int | None = Field(None, description="The key's new version (null on a dry run).")


class ImportResult(BaseModel):
    dry_run: bool
    mode: str
    created: list[str]
    updated: list[str]
    deleted: list[str]
    unchanged: list[str]
    changes: list[ImportChange]
