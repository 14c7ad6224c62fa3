"""GET /: a bare HTML form to try the upload from a browser."""

from handlerkit import NextResponse

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>handlerkit uploads</title>
<h1>Upload an image</h1>
<form method="post" action="api/images" enctype="multipart/form-data">
  <input type="file" name="file" accept="image/png,image/jpeg,image/gif,image/webp">
  <button>Upload</button>
</form>
<p>PNG, JPEG, GIF or WebP. The server answers with JSON.</p>
</html>
"""


def GET() -> NextResponse:
    return NextResponse(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
