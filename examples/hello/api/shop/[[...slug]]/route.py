def GET(request, context):
    return {"slug": context.params.get("slug", [])}
