"""Routes of knowledge bases, their documents and search (``/api/v1/knowledge…``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import File, Form, Query, Response, UploadFile

from claw_common.http.app import api_router
from claw_common.http.pagination import Cursor, Limit
from claw_common.http.security import CallerDep
from knowledge_app import document_logic, kb_logic, query_logic
from knowledge_app.models import (
    ChunkPage,
    Document,
    DocumentPage,
    DocumentUpdate,
    KnowledgeBase,
    KnowledgeBaseCreate,
    KnowledgeBasePage,
    KnowledgeBaseUpdate,
    QueryRequest,
    QueryResponse,
    TextDocumentCreate,
    UploadUrl,
    UploadUrlRequest,
)

router = api_router("/knowledge", tags=["knowledge"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such knowledge base (or document) of the caller."}
}


@router.post("", status_code=201, response_model=KnowledgeBase, summary="Create a knowledge base")
def create_knowledge_base(body: KnowledgeBaseCreate, caller: CallerDep) -> Any:
    return kb_logic.create_knowledge_base(caller, body)


@router.get("", response_model=KnowledgeBasePage, summary="The caller's knowledge bases, newest first")
def list_knowledge_bases(caller: CallerDep, limit: Limit = 20, cursor: Cursor = None) -> Any:
    return kb_logic.list_knowledge_bases(caller, limit=limit, cursor=cursor)


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Search several of the caller's knowledge bases (all by default)",
    responses=NOT_FOUND,
)
def query_many(body: QueryRequest, caller: CallerDep) -> QueryResponse:
    return query_logic.query(caller, body)


@router.get("/{kb_id}", response_model=KnowledgeBase, responses=NOT_FOUND, summary="One knowledge base")
def get_knowledge_base(kb_id: str, caller: CallerDep) -> Any:
    return kb_logic.get_knowledge_base(caller, kb_id)


@router.put("/{kb_id}", response_model=KnowledgeBase, responses=NOT_FOUND, summary="Rename or re-describe")
def update_knowledge_base(kb_id: str, body: KnowledgeBaseUpdate, caller: CallerDep) -> Any:
    return kb_logic.update_knowledge_base(caller, kb_id, body)


@router.delete(
    "/{kb_id}", status_code=204, responses=NOT_FOUND, summary="Delete it with its documents, chunks and files"
)
def delete_knowledge_base(kb_id: str, caller: CallerDep) -> Response:
    kb_logic.delete_knowledge_base(caller, kb_id)
    return Response(status_code=204)


@router.post(
    "/{kb_id}/documents",
    status_code=202,
    response_model=Document,
    responses=NOT_FOUND,
    summary="Add a text (or Markdown) document; ingested asynchronously",
)
def add_text_document(kb_id: str, body: TextDocumentCreate, caller: CallerDep) -> Any:
    return document_logic.add_text_document(caller, kb_id, body)


@router.post(
    "/{kb_id}/documents/upload",
    status_code=202,
    response_model=Document,
    responses={
        **NOT_FOUND,
        200: {"model": Document, "description": "The knowledge base already holds these bytes: that document."},
        413: {"description": "Larger than 4 MB: use the presigned upload URL."},
        415: {"description": "A file type that cannot be ingested."},
    },
    summary="Upload a small file (multipart `file`, at most 4 MB); ingested asynchronously",
    description="The same content uploaded again into the knowledge base answers 200 with the existing "
    "document (nothing is stored twice), unless `replace=true`.",
)
def upload_document(
    kb_id: str,
    caller: CallerDep,
    response: Response,
    file: Annotated[UploadFile, File(description="PDF, DOCX, XLSX, CSV, HTML, Markdown, TXT or JSON.")],
    title: Annotated[str | None, Form(max_length=500)] = None,
    replace: Annotated[
        bool, Query(description="Store a new document even when one with identical content exists.")
    ] = False,
) -> Any:
    data = file.file.read(document_logic.MAX_UPLOAD_BYTES + 1)
    if not replace and len(data) <= document_logic.MAX_UPLOAD_BYTES:
        existing = document_logic.find_identical_document(caller, kb_id, data)
        if existing is not None:
            response.status_code = 200
            return existing
    return document_logic.upload_document(
        caller, kb_id, filename=file.filename or "", content_type=file.content_type, data=data, title=title
    )


@router.post(
    "/{kb_id}/documents/upload-url",
    status_code=201,
    response_model=UploadUrl,
    responses={**NOT_FOUND, 413: {"description": "`size` is over the tier's limit."}},
    summary="A presigned S3 POST for uploading a (large) file straight to storage",
)
def create_upload_url(kb_id: str, body: UploadUrlRequest, caller: CallerDep) -> Any:
    return document_logic.create_upload_url(caller, kb_id, body)


@router.get("/{kb_id}/documents", response_model=DocumentPage, responses=NOT_FOUND, summary="Documents, newest first")
def list_documents(
    kb_id: str,
    caller: CallerDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[Literal["pending", "processing", "ready", "failed"] | None, Query()] = None,
) -> Any:
    return document_logic.list_documents(caller, kb_id, limit=limit, cursor=cursor, status=status)


@router.get("/{kb_id}/documents/{document_id}", response_model=Document, responses=NOT_FOUND, summary="One document")
def get_document(kb_id: str, document_id: str, caller: CallerDep) -> Any:
    return document_logic.get_document(caller, kb_id, document_id)


@router.patch(
    "/{kb_id}/documents/{document_id}",
    response_model=Document,
    responses={**NOT_FOUND, 422: {"description": "An invalid replacement document or validity period."}},
    summary="Mark a document superseded or give it a validity period (fields present change)",
)
def patch_document(kb_id: str, document_id: str, body: DocumentUpdate, caller: CallerDep) -> Any:
    return document_logic.update_document(caller, kb_id, document_id, body)


@router.put(
    "/{kb_id}/documents/{document_id}",
    response_model=Document,
    responses={**NOT_FOUND, 422: {"description": "An invalid replacement document or validity period."}},
    summary="Set a document's title, replacement and validity period (fields present change)",
)
def put_document(kb_id: str, document_id: str, body: DocumentUpdate, caller: CallerDep) -> Any:
    return document_logic.update_document(caller, kb_id, document_id, body)


@router.delete(
    "/{kb_id}/documents/{document_id}", status_code=204, responses=NOT_FOUND, summary="Delete a document and its file"
)
def delete_document(kb_id: str, document_id: str, caller: CallerDep) -> Response:
    document_logic.delete_document(caller, kb_id, document_id)
    return Response(status_code=204)


@router.get(
    "/{kb_id}/documents/{document_id}/chunks",
    response_model=ChunkPage,
    responses=NOT_FOUND,
    summary="The document's chunks, in order",
)
def list_chunks(kb_id: str, document_id: str, caller: CallerDep, limit: Limit = 20, cursor: Cursor = None) -> Any:
    return document_logic.list_chunks(caller, kb_id, document_id, limit=limit, cursor=cursor)


@router.post(
    "/{kb_id}/documents/{document_id}/reindex",
    status_code=202,
    response_model=Document,
    responses={**NOT_FOUND, 409: {"description": "The document has no file yet."}},
    summary="Ingest the document's file again",
)
def reindex_document(kb_id: str, document_id: str, caller: CallerDep) -> Any:
    return document_logic.reindex_document(caller, kb_id, document_id)


@router.post(
    "/{kb_id}/query",
    response_model=QueryResponse,
    responses=NOT_FOUND,
    summary="Search one knowledge base (vector or hybrid), optionally with a generated answer",
)
def query_one(kb_id: str, body: QueryRequest, caller: CallerDep) -> QueryResponse:
    return query_logic.query(caller, body, kb_id=kb_id)
