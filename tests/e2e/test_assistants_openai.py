"""The OpenAI-compatible API, driven by the official ``openai`` SDK through the local gateway."""

from __future__ import annotations

import os
from typing import Any

import openai
import pytest

from tests.assistant_helpers import API, create_assistant, knowledge_base_with
from tests.auth_helpers import new_user


def api_key_of(api: Any, user: Any) -> str:
    resp = api.post(f"{API}/auth/api-keys", json={"name": "sdk"}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["key"]


def sdk(platform: Any, api_key: str) -> openai.OpenAI:
    """The official client pointed at the local gateway (no retries: every status is asserted)."""
    return openai.OpenAI(base_url=f"{platform.gateway_url}{API}/openai", api_key=api_key, max_retries=0)


@pytest.fixture(scope="module")
def published(api: Any, platform: Any) -> dict[str, Any]:
    import psycopg
    from psycopg.rows import dict_row

    owner = new_user(api, tier="pro")
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as db:
        kb_id = knowledge_base_with(api, db, owner)
    assistant = create_assistant(api, owner, knowledge_base_ids=[kb_id])
    client = sdk(platform, api_key_of(api, owner))
    return {"owner": owner, "assistant": assistant, "client": client}


def test_the_sdk_gets_a_completion_with_usage(published: dict[str, Any], api: Any) -> None:
    client, assistant, owner = published["client"], published["assistant"], published["owner"]
    completion = client.chat.completions.create(
        model=assistant["public_id"],
        messages=[
            {"role": "system", "content": "Ignored: the assistant's own instructions apply."},
            {"role": "user", "content": "How many days do I have to return an item?"},
        ],
    )
    assert completion.object == "chat.completion" and completion.model == assistant["public_id"]
    [choice] = completion.choices
    assert choice.message.role == "assistant" and "30 days" in choice.message.content
    assert choice.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    # The call is in the owner's view as an API conversation
    listed = api.get(f"{API}/assistants/{assistant['id']}/conversations", headers=owner.headers).json()["items"]
    assert any(c["channel"] == "api" and c["question_count"] == 1 for c in listed)


def test_the_sdk_lists_the_owners_assistants_as_models(published: dict[str, Any]) -> None:
    ids = [m.id for m in published["client"].models.list()]
    assert published["assistant"]["public_id"] in ids


def test_streaming_is_server_sent_events(published: dict[str, Any]) -> None:
    stream = published["client"].chat.completions.create(
        model=published["assistant"]["public_id"],
        messages=[{"role": "user", "content": "Who pays the shipping for returns?"}],
        stream=True,
    )
    chunks = list(stream)
    assert len(chunks) >= 3
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "customer" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_another_users_assistant_is_not_a_model(published: dict[str, Any], api: Any, platform: Any) -> None:
    bob = new_user(api)
    bobs = sdk(platform, api_key_of(api, bob))
    with pytest.raises(openai.NotFoundError):
        bobs.chat.completions.create(
            model=published["assistant"]["public_id"], messages=[{"role": "user", "content": "Hi"}]
        )
    assert [m.id for m in bobs.models.list()] == []
    # And without a valid key the SDK gets 401
    anonymous = sdk(platform, "claw_00000000_" + "x" * 43)
    with pytest.raises(openai.AuthenticationError):
        anonymous.models.list()
