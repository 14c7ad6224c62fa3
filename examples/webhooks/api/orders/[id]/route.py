"""GET /api/orders/<id>: an order's status as the Stripe webhooks left it (404 if none arrived)."""

from handlerkit import ApiError, NextRequest, NextResponse, RouteContext

from ...._lib import ledger


def GET(request: NextRequest, context: RouteContext) -> NextResponse:
    with ledger.connect() as connection:
        row = connection.execute(
            "SELECT * FROM orders WHERE id = ?", (context.params["id"],)
        ).fetchone()
    if row is None:
        raise ApiError(404, "not_found", "No webhook has mentioned this order.")
    return NextResponse.json(
        {
            "id": row["id"],
            "status": row["status"],
            "amount": row["amount"],
            "updatedAt": row["updated_at"],
        }
    )
