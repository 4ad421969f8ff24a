"""Scanned documents drawn at test time: pages rendered with Pillow in Debian's Noto CJK font
(``fonts-noto-cjk``), as a scanner or a phone camera would deliver them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


def cjk_font_path() -> str:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return path
    pytest.fail(
        "No CJK font: these tests draw Chinese pages with Noto Sans CJK. "
        "Install the Debian package with: apt-get install -y fonts-noto-cjk"
    )


def render_page(lines: list[str], *, size: tuple[int, int] = (1240, 1754), body_pt: int = 28) -> Image.Image:
    """An A4 page at 150 dpi with one line of text per row (a larger first row as the title)."""
    font_path = cjk_font_path()
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    y = 110
    for number, text in enumerate(lines):
        font = ImageFont.truetype(font_path, 40 if number == 0 else body_pt)
        draw.text((90, y), text, font=font, fill=(20, 20, 20))
        y += 80 if number == 0 else int(body_pt * 1.8)
    return image


def photographed(image: Image.Image, *, angle: float = 1.5, tint: float = 0.2, blur: float = 0.8) -> Image.Image:
    """The page as a phone photo: tilted, tinted paper, blurred."""
    tilted = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(228, 224, 214))
    tinted = Image.blend(tilted, Image.new("RGB", tilted.size, (250, 236, 200)), tint)
    return tinted.filter(ImageFilter.GaussianBlur(blur))


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def image_only_pdf(images: list[Image.Image], resolution: float = 150.0) -> bytes:
    """A PDF of pictures only (no text layer), as a scanner writes it."""
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=resolution)
    return buffer.getvalue()


def manual_page(number: int) -> list[str]:
    """Page ``number`` of a bilingual after-sales manual: ~20 rows, every row different."""
    rows = [f"第{number}页 售后服务手册 After-sales Manual, page {number}"]
    for row in range(1, 10):
        code = 1000 * number + 7 * row
        rows.append(f"第{number}.{row}条：型号CM-{code}的咖啡机每{row + 2}个月需要清洁一次蒸汽管。")
        rows.append(f"Clause {number}.{row}: model CM-{code} keeps its warranty card for {row + 1} years.")
    return rows
