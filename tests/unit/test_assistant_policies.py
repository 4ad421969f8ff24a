"""Pure rules of assistants: the no-answer detection, answer languages, visitor tokens, CORS, CSV cells."""

from __future__ import annotations

import pytest

from assistants_app.answering import default_no_answer, limited_message, reply_declines
from assistants_app.cors import allow_origin
from assistants_app.insights_logic import csv_safe
from assistants_app.models import normalise_origin
from claw_common.auth import tokens, visitor_tokens

RING = tokens.parse_key_ring({"kid": "k1", "secret": "s" * 40})
ISS = "https://claw.ai"
VISITOR = "11111111-1111-4111-8111-111111111111"
CONVERSATION = "22222222-2222-4222-8222-222222222222"
PUBLIC_ID = "ast_abcdefghijklmnopqrstuvwx"


@pytest.mark.parametrize(
    "reply",
    [
        "No language model is configured and no source matched your question, so I cannot answer it.",
        "未配置语言模型，知识库中也没有与该问题匹配的资料，因此无法回答。",
        "The provided sources do not contain information about bicycles.",
        "资料中没有提到营业时间。",
        "I'm unable to answer that from the documents.",
    ],
)
def test_replies_that_decline_are_no_answers(reply: str) -> None:
    assert reply_declines(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "Items can be returned within 30 days [1].",
        "The sources do not mention Sundays, but weekday hours are 9-17 [2].",
        "退货期限为 30 天 [1]。",
        "Hello! How can I help you today?",
    ],
)
def test_answers_and_cited_partial_answers_are_not_no_answers(reply: str) -> None:
    assert not reply_declines(reply)


def test_default_sentences_follow_the_questions_language() -> None:
    assert default_no_answer("Where is my parcel?").startswith("Sorry")
    assert default_no_answer("我的包裹在哪里？").startswith("抱歉")
    assert limited_message("Hello?").startswith("Sorry") and limited_message("你好").startswith("抱歉")


def test_a_visitor_token_round_trips_and_is_not_an_access_token() -> None:
    token = visitor_tokens.issue_visitor_token(
        RING, visitor_id=VISITOR, assistant=PUBLIC_ID, conversation_id=CONVERSATION, origin="", issuer=ISS, ttl_s=600
    )
    claims = visitor_tokens.verify_visitor_token(RING, token, issuer=ISS)
    assert (claims.visitor_id, claims.assistant, claims.conversation_id) == (VISITOR, PUBLIC_ID, CONVERSATION)
    assert visitor_tokens.token_audience(token) == visitor_tokens.VISITOR_AUDIENCE
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(RING, token, issuer=ISS, audience="claw-api")
    access = tokens.issue_access_token(
        RING, user_id=VISITOR, role="user", tier="free", issuer=ISS, audience="claw-api", ttl_s=600
    )
    with pytest.raises(tokens.TokenError):
        visitor_tokens.verify_visitor_token(RING, access, issuer=ISS)


def test_an_expired_or_foreign_visitor_token_is_refused() -> None:
    expired = visitor_tokens.issue_visitor_token(
        RING,
        visitor_id=VISITOR,
        assistant=PUBLIC_ID,
        conversation_id=CONVERSATION,
        origin="",
        issuer=ISS,
        ttl_s=60,
        now=1_000_000,
    )
    with pytest.raises(tokens.TokenError):
        visitor_tokens.verify_visitor_token(RING, expired, issuer=ISS)
    valid = visitor_tokens.issue_visitor_token(
        RING, visitor_id=VISITOR, assistant=PUBLIC_ID, conversation_id=CONVERSATION, origin="", issuer=ISS, ttl_s=600
    )
    other_ring = tokens.parse_key_ring({"kid": "k1", "secret": "t" * 40})
    with pytest.raises(tokens.TokenError):
        visitor_tokens.verify_visitor_token(other_ring, valid, issuer=ISS)


def test_origins_are_normalised_and_checked() -> None:
    assert normalise_origin("HTTPS://Shop.Example.com/") == "https://shop.example.com"
    for bad in ("shop.example.com", "https://shop.example.com/path", "ftp://x.org", "https://u:p@x.org"):
        with pytest.raises(ValueError):
            normalise_origin(bad)
    assert allow_origin([], "https://a.org") == "*"
    assert allow_origin(["https://a.org"], "https://a.org") == "https://a.org"
    assert allow_origin(["https://a.org"], "https://b.org") is None
    assert allow_origin(None, "https://a.org") is None


def test_csv_cells_never_start_a_formula() -> None:
    assert csv_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)" and csv_safe("-1+2") == "'-1+2"
    assert csv_safe("Hello") == "Hello" and csv_safe(3) == 3
