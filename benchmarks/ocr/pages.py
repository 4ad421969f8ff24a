"""Bilingual test pages for the OCR benchmark: rendered text with its ground truth.

Each page is an A4 sheet at 150 dpi with a title and one sentence per row, Chinese and
English mixed the way customer documents are (product manuals, price lists, error-code
tables): numbers, codes like ``E1023``, prices like ``¥1,299.00``. Text is drawn with
Pillow in the Debian CJK font (``fonts-noto-cjk``), so the ground truth is exact.

Three variants:

* ``clean``: a scan at 150 dpi, black on white;
* ``photo``: the same page as a phone photo of paper: slight rotation, uneven lighting,
  paper tint, blur, sensor noise, JPEG round trip;
* ``pdf``: several clean pages embedded as images in a PDF with no text layer (what a
  scanner produces), rendered back with pypdfium2 at 200 dpi by whoever reads it.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PACKAGE = "fonts-noto-cjk"
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

DPI = 150
A4_PX = (round(8.27 * DPI), round(11.69 * DPI))  # 1240 x 1754

ZH_SENTENCES = (
    "本产品支持七天无理由退货，请保留完整包装。",
    "如遇错误代码{code}，请先重启设备再联系客服。",
    "会员价格为{price_cny}，活动截止到{date}。",
    "订单号{order}已发货，预计三个工作日内送达。",
    "请在设置页面中打开自动备份功能。",
    "保修期为两年，人为损坏不在保修范围内。",
    "客服热线{phone}，工作时间为早九点至晚六点。",
    "退款将在审核通过后原路返回到您的账户。",
    "机器人每天可以处理{count}条咨询记录。",
    "发票信息请在下单时填写，税号为必填项。",
    "知识库文档上传后需要几分钟完成索引。",
    "设备温度超过{temp}度时会自动进入保护模式。",
)
EN_SENTENCES = (
    "Error code {code} means the sensor is not connected.",
    "The annual plan costs {price_usd} and includes priority support.",
    "Please contact support with your order number {order}.",
    "Free shipping applies to orders above {price_cny}.",
    "Reset the device by holding the power button for ten seconds.",
    "Our assistant answers questions from your own documents.",
    "The warranty covers manufacturing defects for {years} years.",
    "Firmware version {version} fixes the Bluetooth pairing issue.",
    "Uploads larger than {size} MB are processed in the background.",
    "Call {phone} between 9:00 and 18:00 on working days.",
)
TITLES_ZH = ("产品说明书", "售后服务指南", "常见问题解答", "价格清单", "故障排除手册")
TITLES_EN = ("Product Manual", "After-sales Guide", "FAQ", "Price List", "Troubleshooting")


@dataclass(frozen=True)
class Line:
    """One rendered row: its text and language ("zh" rows may carry codes and digits)."""

    text: str
    lang: str


@dataclass(frozen=True)
class Page:
    """A rendered page and the text drawn on it, row by row in reading order."""

    image: Image.Image
    lines: tuple[Line, ...]
    variant: str
    index: int

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()


def find_cjk_font() -> str:
    """Path of a CJK font from Debian's packages; a clear error names the package to install."""
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise FileNotFoundError(
        f"No CJK font found (looked for {', '.join(FONT_CANDIDATES)}); "
        f"install it with: apt-get install -y {FONT_PACKAGE}"
    )


def _fill(template: str, rng: random.Random) -> str:
    values = {
        "code": f"E{rng.randint(1000, 9999)}",
        "price_cny": f"¥{rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.choice(('00', '50', '99'))}",
        "price_usd": f"${rng.randint(10, 999)}.{rng.choice(('00', '49', '99'))}",
        "date": f"{rng.randint(2025, 2027)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        "order": f"CL{rng.randint(10_000_000, 99_999_999)}",
        "phone": f"400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "count": str(rng.randint(1000, 50000)),
        "temp": str(rng.randint(45, 85)),
        "years": str(rng.randint(2, 5)),
        "version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "size": str(rng.choice((20, 50, 100, 200))),
    }
    return template.format(**values)


def page_lines(index: int, *, seed: int = 21, rows: int = 22) -> tuple[Line, ...]:
    """The text of page ``index``: a bilingual title and ``rows`` sentences, alternating languages."""
    rng = random.Random(f"{seed}-{index}")
    title = f"{TITLES_ZH[index % len(TITLES_ZH)]} {TITLES_EN[index % len(TITLES_EN)]} 第{index + 1}页"
    lines = [Line(title, "zh")]
    for row in range(rows):
        if row % 2 == 0:
            lines.append(Line(_fill(rng.choice(ZH_SENTENCES), rng), "zh"))
        else:
            lines.append(Line(_fill(rng.choice(EN_SENTENCES), rng), "en"))
    return tuple(lines)


def render_lines(
    lines: Sequence[Line], *, font_path: str | None = None, size: tuple[int, int] = A4_PX, font_px: int = 30
) -> Image.Image:
    """Draw rows of text on a white page (title larger), left-aligned with A4-like margins."""
    font_file = font_path or find_cjk_font()
    body = ImageFont.truetype(font_file, font_px)
    heading = ImageFont.truetype(font_file, round(font_px * 1.4))
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    margin_x, y = round(size[0] * 0.08), round(size[1] * 0.07)
    for number, line in enumerate(lines):
        font = heading if number == 0 else body
        draw.text((margin_x, y), line.text, font=font, fill=(20, 20, 20))
        y += round(font.size * (2.2 if number == 0 else 1.9))
    return image


def photo_like(image: Image.Image, *, seed: int = 0) -> Image.Image:
    """A phone photo of the printed page: rotation, uneven light, tinted paper, blur, noise, JPEG."""
    import numpy as np

    rng = np.random.default_rng(seed)
    angle = float(rng.uniform(-2.5, 2.5))
    rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(235, 232, 225))
    pixels = np.asarray(rotated, dtype=np.float32)
    height, width = pixels.shape[:2]
    # A light source off one corner: brightness falls from ~1.0 to ~0.6 across the page.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height * 0.3)
    distance = np.hypot(xx - cx, yy - cy) / np.hypot(width, height)
    light = 1.0 - 0.45 * distance
    tint = np.array([1.0, 0.97, 0.90], dtype=np.float32)  # warm paper under indoor light
    pixels = pixels * light[..., None] * tint
    pixels += rng.normal(0.0, 7.0, pixels.shape).astype(np.float32)
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(radius=1.1))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=72)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def make_pages(count: int, *, variant: str = "clean", seed: int = 21) -> list[Page]:
    """``count`` pages of one variant ("clean" or "photo"); the same index has the same text."""
    font = find_cjk_font()
    pages = []
    for index in range(count):
        lines = page_lines(index, seed=seed)
        image = render_lines(lines, font_path=font)
        if variant == "photo":
            image = photo_like(image, seed=seed * 1000 + index)
        elif variant != "clean":
            raise ValueError(f"unknown variant {variant!r}")
        pages.append(Page(image=image, lines=lines, variant=variant, index=index))
    return pages


def image_only_pdf(images: Sequence[Image.Image], *, dpi: int = DPI) -> bytes:
    """A PDF whose pages are only pictures (no text layer), as a scanner writes them."""
    buffer = io.BytesIO()
    first, *rest = [image.convert("RGB") for image in images]
    first.save(buffer, format="PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return buffer.getvalue()


def write_corpus(folder: Path, count: int, *, seed: int = 21) -> list[Path]:
    """Write PNGs of both variants, a multi-page image-only PDF and the ground truth (``*.txt``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    clean = make_pages(count, variant="clean", seed=seed)
    for variant, pages in (("clean", clean), ("photo", make_pages(count, variant="photo", seed=seed))):
        for page in pages:
            png = folder / f"{variant}-{page.index + 1:02d}.png"
            png.write_bytes(page.png_bytes())
            png.with_suffix(".txt").write_text(page.text + "\n", encoding="utf-8")
            written.append(png)
    pdf = folder / "scanned.pdf"
    pdf.write_bytes(image_only_pdf([page.image for page in clean]))
    pdf.with_suffix(".txt").write_text("\f".join(page.text for page in clean) + "\n", encoding="utf-8")
    written.append(pdf)
    return written
