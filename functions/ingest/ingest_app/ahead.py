"""Work ahead within one invocation: the next record's document prepared on a background thread.

An invocation processes its SQS records one after another (``ingest_app.handler``). Once a
record knows its tier's parse limits, the next records' objects are fetched (one thread; one GET
each, whose headers are the HEAD), parsed, chunked and segmented (a second thread), then embedded
and encoded as COPY rows (a third), at most ``window`` ahead, while this record waits on the
database and writes (S3 and the database wait without the GIL, and numpy releases it inside the
model): the embedder goes from one document to the next without waiting for the round trips or
the parsing in between, and the write only sends bytes.

Only a head start; nothing is written ahead. A record uses what was prepared only when it was
prepared from exactly the inputs it would use itself: the prepared HEAD is the record's HEAD
and the bytes are that object version's, and the document's filename and title, its tier's
parse limits and its (absent) OCR text are the ones the preparation used, so the chunks,
vectors and search texts are the ones it would compute. Anything else (a failed fetch, a
parser error, pages that need OCR, a document with another title) is left to the record, which
does it, and reports it, as it would without.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from claw_common.documents import knowledge_base_of
from ingest_app.chunker import Chunk
from ingest_app.copy_rows import encode_rows
from ingest_app.objects import fetch_object
from ingest_app.parsers import ParseLimits
from ingest_app.steps import embed_texts, parse_and_chunk, segment

PREFETCH_MAX_BYTES = 8 * 1048576
"""Objects up to this size (and their tier's limit) are downloaded and prepared ahead; of larger
ones only the GET's headers are read ahead (not the body), and their record downloads them after its checks."""


@dataclass(slots=True)
class Prepared:
    """What was done ahead for one object: its HEAD, and (when it got that far) bytes, chunks, vectors."""

    head: dict[str, Any]
    data: bytes | None = None
    filename: str = ""
    title: str = ""
    limits: ParseLimits | None = None
    chunks: list[Chunk] | None = None
    parsed: Any = None
    vectors: list[Any] | None = None
    search_texts: list[str] | None = None
    embed_seconds: float = 0.0
    rows: list[bytes] | None = None  # the chunks as COPY rows (ingest_app.copy_rows)

    def fits(self, document: dict[str, Any], limits: ParseLimits, ocr_text: Any, ocr_errors: Any) -> bool:
        """True when the chunks were made from the inputs the record would use itself."""
        return (
            self.chunks is not None
            and self.rows is not None
            and not ocr_text
            and not ocr_errors
            and self.limits == limits
            and document["filename"] == self.filename
            and document["title"] == self.title
        )


class Claim:
    """A record's share of the work ahead: the HEAD as soon as the object is fetched, the rest
    (chunks, vectors, rows) when it is ready. The record does its database round trips in
    between, while its own document is still being parsed and embedded."""

    __slots__ = ("_fetched", "_prepared")

    def __init__(self, fetched: Future[Any], prepared: Future[Prepared | None]) -> None:
        self._fetched = fetched
        self._prepared = prepared

    def head(self) -> dict[str, Any] | None:
        """The object's HEAD (from its GET), or None when the fetch failed or found nothing."""
        try:
            head, _ = self._fetched.result()
        except Exception:  # noqa: BLE001 - the record looks at the object itself and reports
            return None
        return head

    def cancel(self) -> None:
        """Drop the preparation if it has not started (a running one finishes in the background)."""
        self._prepared.cancel()

    def prepared(self) -> Prepared | None:
        """What was prepared (waiting for it to finish), or None when it failed."""
        try:
            return self._prepared.result()
        except Exception:  # noqa: BLE001 - a failed head start: the record does the work and reports it
            return None


class WorkAhead:
    """Background threads preparing the invocation's next objects, in order (see the module docstring).

    ``objects`` are the (bucket, key) of the invocation's ObjectCreated records in their order.
    At most ``window`` objects are prepared and not yet taken, which bounds the memory held.
    """

    def __init__(
        self,
        s3: Any,
        embedder: Any,
        objects: list[tuple[str, str]],
        *,
        window: int = 2,
        max_bytes: int = PREFETCH_MAX_BYTES,
    ) -> None:
        self._s3 = s3
        self._embedder = embedder
        self._objects = objects
        self._window = window
        self._max_bytes = max_bytes
        self._next = 0  # position of the first object no record has reached yet
        self._limits: ParseLimits | None = None
        # S3 on one thread, parsing on a second, embedding on a third: the embedder's next document
        # is downloaded and chunked while it embeds the current one.
        self._io: ThreadPoolExecutor | None = None
        self._parse: ThreadPoolExecutor | None = None
        self._cpu: ThreadPoolExecutor | None = None
        self._pending: dict[int, Claim] = {}

    def start(self, limits: ParseLimits) -> None:
        """Prepare the objects after the current record, with the parse limits of the current record.

        Records of one batch are nearly always of one knowledge base; other limits only mean
        a preparation is not used (``Prepared.fits``).
        """
        if self._limits is None:
            self._limits = limits
        self._fill()

    def claim(self, bucket: str, key: str) -> Claim | None:
        """The work ahead for the record of ``bucket/key`` (None: nothing was started for it).

        The record has reached its place in the batch: the window moves past it."""
        position = next((i for i in range(self._next, len(self._objects)) if self._objects[i] == (bucket, key)), None)
        if position is None:
            return None
        self._next = position + 1
        for passed in [i for i in self._pending if i < position]:
            # Records that stopped before taking theirs (a duplicate, a missing knowledge base).
            self._pending.pop(passed).cancel()
        claim = self._pending.pop(position, None)
        self._fill()
        return claim

    def take(self, bucket: str, key: str) -> Prepared | None:
        """What was prepared for the record of ``bucket/key`` (waiting for it to finish), or None."""
        claim = self.claim(bucket, key)
        return claim.prepared() if claim is not None else None

    def close(self) -> None:
        """Drop what was not taken; a preparation still running finishes in the background."""
        for claim in self._pending.values():
            claim.cancel()
        self._pending.clear()
        for executor in (self._io, self._parse, self._cpu):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._io = self._parse = self._cpu = None

    def _fill(self) -> None:
        limits = self._limits
        if limits is None:
            return
        for position in range(self._next, min(self._next + self._window, len(self._objects))):
            if position not in self._pending:
                if self._io is None or self._parse is None or self._cpu is None:
                    self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-ahead-s3")
                    self._parse = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-ahead-parse")
                    self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-ahead")
                bucket, key = self._objects[position]
                fetched = self._io.submit(self._fetch, bucket, key, limits)
                chunked = self._parse.submit(self._chunk, fetched, key, limits)
                self._pending[position] = Claim(fetched, self._cpu.submit(self._embed, chunked))

    def _fetch(self, bucket: str, key: str, limits: ParseLimits) -> tuple[dict[str, Any] | None, bytes | None]:
        # One GET gives the HEAD and the bytes of one version (the size is checked before the body is read).
        head, data = fetch_object(self._s3, bucket, key, min(self._max_bytes, limits.max_bytes))
        return head, data if data is not None and head is not None and len(data) == head["size"] else None

    def _chunk(
        self, fetched: Future[tuple[dict[str, Any] | None, bytes | None]], key: str, limits: ParseLimits
    ) -> Prepared | None:
        head, data = fetched.result()
        if head is None:
            return None
        parsed_key = knowledge_base_of(key)
        if data is None or parsed_key is None:
            return Prepared(head)
        filename = parsed_key[1]
        # The title a document dropped into the bucket gets (repository.find_or_create_document).
        title = filename[:500] or "untitled"
        document = {"id": key, "filename": filename, "title": title}
        try:
            chunks, parsed = parse_and_chunk(data, document, head, limits, log_crash=False)
        except Exception:  # noqa: BLE001 - the record parses again and fails (or rejects) as it would
            return Prepared(head, data)
        if parsed.ocr_pages or not chunks:
            return Prepared(head, data)
        search_texts = segment([c.text for c in chunks])
        return Prepared(head, data, filename, title, limits, chunks, parsed, search_texts=search_texts)

    def _embed(self, chunked: Future[Prepared | None]) -> Prepared | None:
        prepared = chunked.result()
        if prepared is None or prepared.chunks is None or prepared.search_texts is None:
            return prepared
        started = time.perf_counter()
        prepared.vectors = embed_texts(self._embedder, [c.text for c in prepared.chunks])
        prepared.embed_seconds = time.perf_counter() - started
        prepared.rows = encode_rows(prepared.chunks, prepared.search_texts, prepared.vectors)
        return prepared
