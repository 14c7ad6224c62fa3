def GET():
    return {"about": "handlerkit hello example"}
