"""OCR by a Zhipu vision model (GLM-4V family) through the ``zhipuai`` SDK, behind the same seam."""

from __future__ import annotations

import base64
import io
import re
import time
from typing import TYPE_CHECKING, Any

from ocr_app.engines.base import OcrError, OcrLine, OcrResult, load_image

if TYPE_CHECKING:
    from PIL.Image import Image


VISION_PROMPT = (
    "You are an OCR engine. Transcribe all text in this image exactly as written, in reading "
    "order, one line of the image per line of output. Keep Chinese and English as they are; "
    "do not translate, summarise, describe the image or add commentary. If there is no text, "
    "answer with nothing."
)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


class ZhipuVisionOcr:
    """OCR by a Zhipu GLM-4V model through the ``zhipuai`` SDK (chat completions with an image).

    The image is sent inline as a ``data:`` URL: re-encoded as JPEG at quality 90 (text stays
    legible at a fraction of a PNG's bytes) with its long side capped at ``max_side`` pixels
    (the service takes at most 5 MB per image). The
    model gives no confidence, so ``OcrResult.confidence`` is ``None``. SDK failures become
    ``OcrError(code="unavailable")`` (retry the message later) or, for a rejected request,
    ``OcrError(code="corrupt")``.
    """

    name = "zhipu-vision"

    def __init__(
        self,
        api_key: str,
        *,
        model: str = "glm-4v-flash",
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_side: int = 2048,
        client: Any = None,
    ) -> None:
        if not api_key and client is None:
            raise ValueError("ZhipuVisionOcr needs an API key")
        self._api_key = api_key
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_side = max_side
        self._client = client

    def __repr__(self) -> str:
        return f"ZhipuVisionOcr(model={self.model!r}, base_url={self.base_url!r})"

    def _sdk(self) -> Any:
        if self._client is None:
            import httpx
            from zhipuai import ZhipuAI

            self._client = ZhipuAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout_s, connect=5.0),
                max_retries=0,  # the queue retries the message; the SDK's sleeps ignore the Lambda deadline
            )
        return self._client

    def image_data_url(self, image: bytes | Image) -> str:
        """The image as a ``data:image/jpeg;base64,…`` URL, its long side capped at ``max_side``."""
        picture = load_image(image)
        if max(picture.size) > self.max_side:
            picture = picture.copy()
            picture.thumbnail((self.max_side, self.max_side))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def build_request(self, image: bytes | Image) -> dict[str, Any]:
        """Keyword arguments of ``client.chat.completions.create`` for one image."""
        return {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": self.image_data_url(image)}},
                        {"type": "text", "text": VISION_PROMPT},
                    ],
                }
            ],
            "temperature": 0.01,  # Zhipu rejects 0; transcription wants no sampling
            "stream": False,
        }

    @staticmethod
    def parse_response(completion: Any) -> tuple[OcrLine, ...]:
        """Lines of the model's answer (a Markdown code fence around it is removed)."""
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise OcrError("The vision model returned no answer.", code="unavailable")
        content = getattr(choices[0].message, "content", None) or ""
        if isinstance(content, list):  # some models answer with content parts
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        fenced = _FENCE.match(content)
        if fenced:
            content = fenced.group(1)
        return tuple(OcrLine(text=line.strip()) for line in content.splitlines() if line.strip())

    def recognise(self, image: bytes | Image) -> OcrResult:
        request = self.build_request(image)
        started = time.perf_counter()
        from zhipuai import APIStatusError, ZhipuAIError

        try:
            completion = self._sdk().chat.completions.create(**request)
        except APIStatusError as exc:
            if exc.status_code in (400, 413, 422):
                raise OcrError("The vision model refused the image.", code="corrupt") from exc
            raise OcrError(f"The vision model is unavailable (HTTP {exc.status_code}).", code="unavailable") from exc
        except ZhipuAIError as exc:
            raise OcrError("The vision model could not be reached.", code="unavailable") from exc
        lines = self.parse_response(completion)
        return OcrResult(lines=lines, engine=f"{self.name}:{self.model}", seconds=time.perf_counter() - started)
