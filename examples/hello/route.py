from handlerkit import NextResponse


def GET() -> NextResponse:
    return NextResponse.json({"message": "Hello, World!"})
