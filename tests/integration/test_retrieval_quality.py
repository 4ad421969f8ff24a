"""Retrieval quality with the offline embedder: paraphrased questions in Chinese and English
must find the right passage in the top 3, and hybrid must do at least as well as vector.

Ten short documents go through the real ingest path (text body → S3 → SQS → ingest); the
questions avoid the documents' exact wording on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth_helpers import new_user
from tests.knowledge_helpers import add_text, create_kb, wait_settled

DOCUMENTS = {
    "returns": (
        "退货政策",
        "# 退货政策\n\n客户在签收商品后七天内可以申请无理由退货，商品需保持完好、配件齐全。\n\n"
        "## 退款时间\n\n退款将在仓库收到退货后的三个工作日内原路返回。",
    ),
    "shipping": (
        "配送说明",
        "# 配送说明\n\n订单在付款后四十八小时内发货。偏远地区（新疆、西藏）配送需要五到七天，运费另计。",
    ),
    "invoice": (
        "发票开具",
        "# 发票\n\n企业客户可以在订单详情页申请增值税专用发票，需要填写税号和开户银行信息。",
    ),
    "membership": (
        "会员等级",
        "# 会员\n\n年度消费满五千元自动升级为金卡会员，金卡会员享受九五折和生日礼包。",
    ),
    "privacy": (
        "隐私说明",
        "# 隐私\n\n我们不会向第三方出售您的个人信息；您可以在账户设置中导出或删除自己的数据。",
    ),
    "password": (
        "Account security",
        "# Account security\n\nTo change your password, open Settings, choose Security and enter the code "
        "we send to your phone. Two-factor authentication can be turned on in the same place.",
    ),
    "api_limits": (
        "API usage",
        "# API usage\n\nEach API key may send at most 600 requests per minute. Requests above the limit "
        "receive HTTP 429 with a Retry-After header.",
    ),
    "warranty": (
        "Hardware warranty",
        "# Warranty\n\nAll coffee machines include a two-year warranty covering the pump and the heating "
        "element. Damage caused by limescale is not covered.",
    ),
    "cancellation": (
        "Subscription cancellation",
        "# Cancelling a subscription\n\nYou can cancel at any time from the Billing page; the plan stays "
        "active until the end of the paid period and no further charges are made.",
    ),
    "office": (
        "Office locations",
        "# Offices\n\nOur headquarters are in Hangzhou. The European support team works from Dublin, "
        "Monday to Friday, 9:00 to 17:30 local time.",
    ),
}

QUESTIONS = [
    ("买的东西不想要了，多久之内能退？", "returns"),
    ("退货以后钱多久能退回来", "returns"),
    ("寄到西藏要几天", "shipping"),
    ("公司怎么开专票", "invoice"),
    ("怎样才能成为金卡会员", "membership"),
    ("你们会把我的个人资料卖给别人吗", "privacy"),
    ("How do I update my login password?", "password"),
    ("What happens if my API key exceeds the rate limit?", "api_limits"),
    ("Is a broken pump repaired for free on my espresso maker?", "warranty"),
    ("How can I stop my subscription from renewing?", "cancellation"),
    ("Where is the support team in Europe based?", "office"),
    ("企业客户开发票需要提供哪些信息", "invoice"),
]
TOP = 3


@pytest.fixture(scope="module")
def corpus(api: Any, db_module: Any) -> dict[str, Any]:
    user = new_user(api)
    kb = create_kb(api, user, "quality")
    ids = {}
    for name, (title, content) in DOCUMENTS.items():
        ids[name] = add_text(api, user, kb, title, content)
    for doc_id in ids.values():
        assert wait_settled(db_module, document_id=doc_id, timeout=60)["status"] == "ready"
    return {"user": user, "kb": kb, "ids": ids}


@pytest.fixture(scope="module")
def db_module(platform: Any) -> Any:
    import os

    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _hit_rate(conn: Any, corpus: dict[str, Any], mode: str) -> tuple[float, list[str]]:
    from pgvector.psycopg import register_vector

    from claw_ai.providers import get_embedder
    from claw_ai.retrieval.search import search_chunks
    from claw_common.settings import get_settings

    register_vector(conn)
    embedder = get_embedder(get_settings())
    misses = []
    for question, expected in QUESTIONS:
        hits = search_chunks(
            conn,
            embedder=embedder,
            owner_id=corpus["user"].id,
            kb_ids=[corpus["kb"]],
            question=question,
            top_k=TOP,
            mode=mode,  # type: ignore[arg-type]
        )
        if corpus["ids"][expected] not in [h.document_id for h in hits]:
            misses.append(f"{question} -> {[h.title for h in hits]}")
    return 1 - len(misses) / len(QUESTIONS), misses


def test_the_offline_embedder_is_in_use(platform: Any) -> None:
    from claw_ai.providers import get_embedder
    from claw_common.settings import get_settings

    assert get_embedder(get_settings()).name == "use-multilingual-v3"


def test_paraphrased_questions_find_the_right_passage_in_the_top_3(db_module: Any, corpus: dict[str, Any]) -> None:
    vector_rate, vector_misses = _hit_rate(db_module, corpus, "vector")
    hybrid_rate, hybrid_misses = _hit_rate(db_module, corpus, "hybrid")
    print(f"\nhit@{TOP}: vector {vector_rate:.0%}, hybrid {hybrid_rate:.0%}")
    assert hybrid_rate >= 0.8, hybrid_misses
    assert vector_rate >= 0.8, vector_misses
    assert hybrid_rate >= vector_rate, (vector_misses, hybrid_misses)
