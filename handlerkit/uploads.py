"""Upload checks: refusing files whose type is not on a route's allowlist with 415.

The client declares a file's ``Content-Type`` and name; neither is proof of
what the bytes are (BAD_INPUTS C6). :func:`require_content_type` checks the
declared type, the type implied by the file name's extension, and on request
the type the first bytes show::

    from handlerkit.uploads import require_content_type

    IMAGES = ("image/png", "image/jpeg", "image/webp")

    def POST(request):
        upload = request.form_data().get("avatar")
        require_content_type(upload, IMAGES, sniff=True)
        upload.save(storage_path_for(request))   # never upload.name as a path
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from typing import Any

from .errors import ApiError

__all__ = ["require_content_type", "sniff_content_type"]

# First bytes of common formats. Enough to tell an image or a PDF from an
# executable; not a general file-type detector.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
)


def sniff_content_type(upload: Any) -> str | None:
    """Return the type the upload's first bytes show, or ``None`` when not recognised.

    Recognises PNG, JPEG, GIF, WebP, PDF, ZIP and Windows/ELF executables.
    """
    stream = upload.stream
    position = stream.tell()
    try:
        stream.seek(0)
        head = stream.read(16)
    finally:
        stream.seek(position)
    for magic, offset, mimetype in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if mimetype == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return mimetype
    return None


def _allowed(mimetype: str | None, allowed: tuple[str, ...]) -> bool:
    if not mimetype:
        return False
    mimetype = mimetype.lower()
    for pattern in allowed:
        if pattern == mimetype or (pattern.endswith("/*") and mimetype.startswith(pattern[:-1])):
            return True
    return False


def require_content_type(
    upload: Any,
    allowed: Iterable[str],
    *,
    check_extension: bool = True,
    sniff: bool = False,
) -> Any:
    """Refuse an upload whose type is not in *allowed* with 415 ``unsupported_media_type``.

    Args:
        upload: An :class:`~handlerkit.request.UploadedFile` (from
            ``form_data()``); ``None`` or a plain field gives 400.
        allowed: Types such as ``"image/png"``, or families such as ``"image/*"``.
        check_extension: Also require the file name's extension, when it has a
            known one, to map to an allowed type (``photo.exe`` sent as
            ``image/png`` is refused).
        sniff: Also require the first bytes to show an allowed type (see
            :func:`sniff_content_type`); unrecognised content is refused.

    Returns:
        *upload*, so the call can be chained.

    Raises:
        ApiError: 400 ``missing_file`` when *upload* is not a file; 415 when
            a check fails. The message names the allowed types, never the
            client's file name.
    """
    allowed = tuple(item.lower() for item in allowed)
    if upload is None or isinstance(upload, str) or not hasattr(upload, "stream"):
        raise ApiError(400, "missing_file", "A file upload was expected.")
    refusal = ApiError(
        415,
        "unsupported_media_type",
        "This file type is not accepted.",
        {"allowed": list(allowed)},
    )
    if not _allowed(upload.content_type, allowed):
        raise refusal
    if check_extension and "." in upload.name:
        guessed, _ = mimetypes.guess_type("x." + upload.name.rsplit(".", 1)[1], strict=False)
        if guessed is not None and not _allowed(guessed, allowed):
            raise refusal
    if sniff and not _allowed(sniff_content_type(upload), allowed):
        raise refusal
    return upload
