"""The OCR seam: what an engine returns, how it fails, and how an untrusted image is opened."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL.Image import Image

# Content types the ingest routes to OCR (the bytes still decide: see ``ocr_image_bytes``).
IMAGE_CONTENT_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/webp": "WEBP"}
# ~ an A3 page at 300 dpi (3508 x 4961 = 17 Mpx); a phone photo is 12 Mpx. Anything larger is
# either a poster (OCR would not help) or a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000

OcrErrorCode = Literal["unsupported_type", "corrupt", "encrypted", "too_large", "unavailable"]


class OcrError(Exception):
    """An image or page could not be read; ``reason`` is for the user, ``code`` for logic and metrics.

    ``unavailable`` (the vision service failed or refused) is temporary: the caller should
    retry the message, not fail the document. Every other code is a property of the file.
    """

    def __init__(self, reason: str, *, code: OcrErrorCode = "corrupt") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __repr__(self) -> str:
        return f"OcrError(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line of text; ``box`` is (left, top, right, bottom) in image pixels when known."""

    text: str
    confidence: float | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class OcrResult:
    """Lines of one image in reading order, the engine that read them and how long it took."""

    lines: tuple[OcrLine, ...]
    engine: str
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The lines joined with newlines (the parser splits paragraphs on them)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """Mean line confidence in [0, 1], weighted by line length; ``None`` when the engine gives none."""
        scored = [(line.confidence, max(len(line.text), 1)) for line in self.lines if line.confidence is not None]
        if not scored:
            return None
        return sum(c * w for c, w in scored) / sum(w for _, w in scored)


@dataclass(frozen=True, slots=True)
class PageText:
    """The OCR text of one PDF page (``page`` is 1-based, as chunk metadata shows it)."""

    page: int
    text: str
    confidence: float | None
    seconds: float
    lines: tuple[OcrLine, ...] = field(default=(), repr=False)


@runtime_checkable
class OcrEngine(Protocol):
    """Reads the text of one image. Implementations are reused across calls (load once per process)."""

    name: str

    def recognise(self, image: bytes | Image) -> OcrResult:
        """Lines in reading order. Raises ``OcrError`` for unreadable input or an unavailable service."""
        ...


# --------------------------------------------------------------------------- images


def sniff_image_format(data: bytes) -> str | None:
    """ "PNG", "JPEG" or "WEBP" from the magic bytes, else None (the declared content type is not trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def load_image(data: bytes | Image, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image:
    """An RGB Pillow image, upright (EXIF orientation applied), its size checked before decoding."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    if isinstance(data, PILImage.Image):
        image = data
    else:
        kind = sniff_image_format(data)
        if kind is None:
            raise OcrError("The file is not a PNG, JPEG or WebP image.", code="unsupported_type")
        try:
            image = PILImage.open(io.BytesIO(data), formats=[kind])
        except PILImage.DecompressionBombError as exc:
            raise OcrError("The image has too many pixels to be read.", code="too_large") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise OcrError(f"The {kind} image is corrupt and cannot be read.", code="corrupt") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise OcrError(
            f"The image is {width} x {height} pixels; the limit is {max_pixels // 1_000_000} megapixels.",
            code="too_large",
        )
    try:
        image = ImageOps.exif_transpose(image) or image
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:  # truncated data surfaces only when decoding
        raise OcrError("The image is corrupt and cannot be read.", code="corrupt") from exc
