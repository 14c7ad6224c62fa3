"""POST /api/images: upload one image as the ``file`` field of a multipart form.

- 400 when no ``file`` part was sent;
- 415 unless the declared type, the file name's extension *and* the first
  bytes all say PNG, JPEG, GIF or WebP (``handlerkit.uploads.require_content_type``);
- 413 when the image is larger than ``UPLOADS_MAX_BYTES`` (the whole body is
  refused before it is read when ``Content-Length`` already says so);
- 201 with the stored image's URL otherwise. The stored type is the one the
  bytes show, and the stored name is generated here.
"""

import os

from handlerkit import ApiError, NextRequest, NextResponse
from handlerkit.uploads import require_content_type, sniff_content_type

from ..._lib import images

#: The whole multipart body may exceed the image by its headers and boundary.
max_body_size = images.max_bytes() + 16 * 1024


def POST(request: NextRequest) -> NextResponse:
    upload = require_content_type(request.form_data().get("file"), images.EXTENSIONS, sniff=True)
    size = upload.size
    if size > images.max_bytes():
        raise ApiError(
            413,
            "file_too_large",
            f"The image is larger than {images.max_bytes()} bytes.",
            {"max_bytes": images.max_bytes(), "size": size},
        )
    content_type = sniff_content_type(upload)  # what the bytes are, not what the client said
    name = images.new_name(content_type)
    path = os.path.join(images.upload_dir(), name)
    # "x" mode: never overwrite, even if two random names ever collided.
    with open(path, "xb") as target:
        upload.save(target)
    url = f"{request.next_url.base_path}/api/images/{name}"
    body = {"id": name, "url": url, "type": content_type, "size": size, "name": upload.name}
    return NextResponse.json(body, status=201, headers={"Location": url})
