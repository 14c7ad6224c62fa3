def GET(request, context):
    return {"slug": context.params["slug"], "path": "/".join(context.params["slug"])}
