"""A generated bilingual (Chinese + English) corpus of Markdown documents, deterministic per seed.

Each document is a product manual: a title, then sections (``## …``) of one or two
paragraphs mixing Chinese and English sentences, sized so that one section is about one
chunk of the ingest chunker (400 tokens). Nothing is downloaded; the same seed gives the
same bytes.
"""

from __future__ import annotations

import random

ZH_TOPICS = [
    "退货政策",
    "发票开具",
    "会员积分",
    "物流配送",
    "售后维修",
    "账户安全",
    "支付方式",
    "优惠券",
    "数据隐私",
    "企业采购",
]
EN_TOPICS = [
    "returns",
    "invoices",
    "loyalty points",
    "shipping",
    "repairs",
    "account security",
    "payments",
    "coupons",
    "privacy",
    "enterprise purchasing",
]
ZH_CLAUSES = [
    "客户在收到商品后七天内可以申请无理由退货",
    "请保留完整的包装和购物凭证以便我们核实订单信息",
    "退款将在审核通过后三个工作日内原路退回",
    "电子发票会在订单完成后自动发送到您的邮箱",
    "企业客户可以在后台批量下载增值税专用发票",
    "积分可以在下次购物时抵扣现金并且长期有效",
    "偏远地区的配送时间可能会延长两到三天",
    "如果商品在保修期内出现质量问题我们提供免费维修",
    "为了保护账户安全建议您开启双重身份验证",
    "我们支持支付宝、微信支付和主流信用卡付款",
    "优惠券不能与其他促销活动叠加使用",
    "您的个人信息只会用于完成订单和提供客户服务",
    "批量采购超过一百件可以联系客户经理获取报价",
    "节假日期间客服热线的服务时间会有所调整",
]
EN_CLAUSES = [
    "Customers may return most items within thirty days of delivery for a full refund",
    "Keep the original packaging and the receipt so that the order can be verified quickly",
    "Refunds are issued to the original payment method once the inspection is complete",
    "An electronic invoice is emailed automatically when the order is marked as delivered",
    "Enterprise accounts can export invoices in bulk from the billing console",
    "Loyalty points never expire and can be redeemed at checkout for a discount",
    "Deliveries to remote regions may take two or three additional business days",
    "Repairs under warranty are free of charge and include return shipping",
    "Enable two-factor authentication to keep your account safe from takeover",
    "We accept Alipay, WeChat Pay and every major credit card",
    "Coupons cannot be combined with other promotions unless stated otherwise",
    "Personal data is used only to fulfil orders and to provide customer service",
    "Orders of more than one hundred units qualify for a volume quotation",
    "Support hours change during public holidays and are announced in advance",
]


def _paragraph(rng: random.Random, sentences: int) -> str:
    parts = []
    for _ in range(sentences):
        if rng.random() < 0.5:
            parts.append(rng.choice(ZH_CLAUSES) + "，" + rng.choice(ZH_CLAUSES) + "。")
        else:
            parts.append(f"{rng.choice(EN_CLAUSES)} (ref {rng.randrange(1000, 9999)}).")
    return " ".join(parts)


def generate(documents: int, sections: int, *, seed: int = 42) -> list[tuple[str, bytes]]:
    """``documents`` Markdown files (name, UTF-8 bytes) of ``sections`` sections each."""
    rng = random.Random(seed)
    out = []
    for d in range(documents):
        topic = d % len(ZH_TOPICS)
        lines = [f"# {ZH_TOPICS[topic]} {EN_TOPICS[topic].title()} Handbook {d}", ""]
        for s in range(sections):
            t = rng.randrange(len(ZH_TOPICS))
            lines += [f"## {s + 1}. {ZH_TOPICS[t]} / {EN_TOPICS[t]}", ""]
            lines += [_paragraph(rng, rng.randint(4, 6)), ""]
            if rng.random() < 0.5:
                lines += [_paragraph(rng, rng.randint(2, 4)), ""]
        out.append((f"handbook-{d:04d}.md", "\n".join(lines).encode("utf-8")))
    return out
