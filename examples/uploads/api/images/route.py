"""POST /api/images: upload one image as the ``file`` field of a multipart form.

- 400 when no ``file`` part was sent;
- 413 when the image is larger than ``UPLOADS_MAX_BYTES`` (the whole body is
  refused before it is read when ``Content-Length`` already says so);
- 415 when the bytes are not a PNG, JPEG, GIF or WebP image, whatever the
  declared type or file name claim;
- 201 with the stored image's URL otherwise.
"""

import os

from handlerkit import ApiError, NextRequest, NextResponse
from handlerkit.request import UploadedFile

from ..._lib import images

#: The whole multipart body may exceed the image by its headers and boundary.
max_body_size = images.max_bytes() + 16 * 1024


def POST(request: NextRequest) -> NextResponse:
    upload = request.form_data().get("file")
    if not isinstance(upload, UploadedFile):
        raise ApiError(400, "missing_file", "Send the image as the 'file' part of a multipart form.")
    size = upload.size
    if size > images.max_bytes():
        raise ApiError(
            413, "file_too_large", f"The image is larger than {images.max_bytes()} bytes.",
            {"max_bytes": images.max_bytes(), "size": size},
        )
    upload.stream.seek(0)
    content_type = images.sniff(upload.stream.read(16))
    if content_type is None:
        raise ApiError(
            415, "unsupported_media_type", "Only PNG, JPEG, GIF and WebP images are accepted.",
            {"accepted": sorted(images.EXTENSIONS)},
        )
    name = images.new_name(content_type)
    path = os.path.join(images.upload_dir(), name)
    # "x" mode: never overwrite, even if two random names ever collided.
    with open(path, "xb") as target:
        upload.save(target)
    url = f"{request.next_url.base_path}/api/images/{name}"
    body = {"id": name, "url": url, "type": content_type, "size": size, "name": upload.name}
    return NextResponse.json(body, status=201, headers={"Location": url})
