import time

from handlerkit import NextResponse


def GET() -> NextResponse:
    def chunks():
        for word in ("Hello", " streamed", " World!"):
            yield word.encode()
            time.sleep(0.2)

    return NextResponse(chunks(), headers={"Content-Type": "text/plain; charset=utf-8"})
