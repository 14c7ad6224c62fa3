"""Forms and uploads: ``FormData`` and ``UploadedFile`` (``request.form_data()``), file names and type checks.

The client declares a file's ``Content-Type`` and name; neither is proof of
what the bytes are (BAD_INPUTS C6). A file's display name is sanitised
(:func:`sanitize_filename`) from the name handlerkit reads out of the part's
``Content-Disposition`` (:func:`disposition_filename`).
:func:`require_content_type` checks the declared type, the type implied by the
file name's extension, and on request the type the first bytes show::

    from handlerkit.uploads import require_content_type

    IMAGES = ("image/png", "image/jpeg", "image/webp")

    def POST(request):
        upload = request.form_data().get("avatar")
        require_content_type(upload, IMAGES, sniff=True)
        upload.save(storage_path_for(request))   # never upload.name as a path
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO
from urllib.parse import unquote

from werkzeug.datastructures import FileStorage, MultiDict

from .errors import ApiError

__all__ = [
    "FormData",
    "UploadedFile",
    "disposition_filename",
    "require_content_type",
    "sanitize_filename",
    "sniff_content_type",
]

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def sanitize_filename(filename: str | None, max_length: int = 255) -> str:
    """Return a display-safe version of a client-supplied file name.

    The result has no directory part, no control characters and no path
    separators, and is at most *max_length* characters. It is meant for
    display and logs; never use a client's file name as a path.
    """
    if not filename:
        return ""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip().lstrip(".")
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        name = name[: max_length - len(ext) - 1] + ("." + ext if ext else "")
    return name


def disposition_filename(disposition: str) -> str | None:
    """Return the ``filename`` a multipart part's ``Content-Disposition`` gives, or ``None``.

    handlerkit's own reading, the same whatever Werkzeug is installed:

    - ``filename*=charset'lang'percent-encoded`` (RFC 6266/8187) wins over
      ``filename``; UTF-8 and ISO-8859-1 are understood, bad bytes replaced;
    - in a quoted ``filename="..."`` only ``\\"`` and ``\\\\`` are escapes:
      any other backslash is kept, as browsers send Windows paths unescaped
      (``C:\\x`` stays ``C:\\x``), and ``%22`` is a ``"`` (how HTML forms
      encode a quote in a file name).
    """
    params: dict[str, str] = {}
    text, length = disposition, len(disposition)
    pos = text.find(";")
    while 0 <= pos < length:
        pos += 1
        end = pos
        while end < length and text[end] not in "=;":
            end += 1
        key = text[pos:end].strip(" \t").lower()
        if end >= length or text[end] == ";":
            pos = end
            continue
        pos = end + 1
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos < length and text[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < length and text[pos] != '"':
                if text[pos] == "\\" and pos + 1 < length and text[pos + 1] in '"\\':
                    pos += 1
                chars.append(text[pos])
                pos += 1
            value = "".join(chars).replace("%22", '"')
            pos = text.find(";", pos)
        else:
            end = text.find(";", pos)
            value = text[pos : end if end >= 0 else length].strip(" \t")
            pos = end
        params.setdefault(key, value)
    extended = params.get("filename*")
    if extended is not None and extended.count("'") >= 2:
        charset, _, rest = extended.partition("'")
        encoded = rest.partition("'")[2]
        charset = "latin-1" if charset.lower() in ("iso-8859-1", "latin-1", "latin1") else "utf-8"
        return unquote(encoded, charset, "replace")
    return params.get("filename")


class UploadedFile:
    """One uploaded file from a multipart body.

    The declared ``content_type`` comes from the client and is not verified;
    check the bytes yourself when it matters.
    """

    __slots__ = ("_storage", "field")

    def __init__(self, field: str, storage: FileStorage) -> None:
        self.field = field
        self._storage = storage

    @property
    def name(self) -> str:
        """The sanitised display name; ``""`` when the client sent none."""
        return sanitize_filename(self.raw_filename)

    @property
    def raw_filename(self) -> str:
        """The file name as the client sent it (untrusted; never a path); ``""`` when none.

        Read from the part's ``Content-Disposition`` by
        :func:`disposition_filename`, not from the form parser.
        """
        disposition = self._storage.headers.get("Content-Disposition")
        if disposition is None:
            return self._storage.filename or ""
        return disposition_filename(disposition) or ""

    @property
    def content_type(self) -> str:
        """The declared content type (untrusted); ``"application/octet-stream"`` when absent."""
        return self._storage.mimetype or "application/octet-stream"

    @property
    def stream(self) -> IO[bytes]:
        """The underlying file object, a spooled temporary file."""
        return self._storage.stream

    @property
    def size(self) -> int:
        """The size in bytes."""
        stream = self._storage.stream
        position = stream.tell()
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(position)
        return size

    def read(self) -> bytes:
        """Return the whole content."""
        self._storage.stream.seek(0)
        return self._storage.stream.read()

    def save(self, destination: str | os.PathLike[str] | BinaryIO) -> None:
        """Copy the content to a path or an open binary file chosen by the app."""
        self._storage.stream.seek(0)
        if isinstance(destination, (str, os.PathLike)):
            with open(destination, "wb") as target:
                shutil.copyfileobj(self._storage.stream, target)
            return
        shutil.copyfileobj(self._storage.stream, destination)

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, name={self.name!r}, content_type={self.content_type!r})"


class FormData:
    """Fields and files of a form body, like the FormData API.

    ``get(name)`` returns a ``str`` for a field or an :class:`UploadedFile` for
    a file; fields come before files when a name has both.
    """

    __slots__ = ("_fields", "_files")

    def __init__(self, fields: MultiDict[str, str], files: MultiDict[str, FileStorage]) -> None:
        self._fields = fields
        self._files = files

    def get(self, name: str) -> str | UploadedFile | None:
        """Return the first field value or file called *name*, or ``None``."""
        if name in self._fields:
            return self._fields[name]
        if name in self._files:
            return UploadedFile(name, self._files[name])
        return None

    def get_all(self, name: str) -> list[str | UploadedFile]:
        """Return every field value and file called *name*."""
        values: list[str | UploadedFile] = list(self._fields.getlist(name))
        values.extend(UploadedFile(name, storage) for storage in self._files.getlist(name))
        return values

    def has(self, name: str) -> bool:
        """Return whether a field or file called *name* was sent."""
        return name in self._fields or name in self._files

    def keys(self) -> list[str]:
        """Return the distinct names, fields first."""
        return list(dict.fromkeys([*self._fields.keys(), *self._files.keys()]))

    def items(self) -> list[tuple[str, str | UploadedFile]]:
        """Return every ``(name, value)`` pair, fields first."""
        pairs: list[tuple[str, str | UploadedFile]] = list(self._fields.items(multi=True))
        pairs.extend((k, UploadedFile(k, v)) for k, v in self._files.items(multi=True))
        return pairs

    @property
    def files(self) -> list[UploadedFile]:
        """Every uploaded file."""
        return [UploadedFile(k, v) for k, v in self._files.items(multi=True)]

    def __iter__(self) -> Iterator[tuple[str, str | UploadedFile]]:
        return iter(self.items())

    def __contains__(self, name: object) -> bool:
        return name in self._fields or name in self._files

    def __len__(self) -> int:
        return len(self.items())


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
