"""handlerkit's benchmarks against raw WSGI, Werkzeug, Flask, Falcon and Bottle (not part of the package)."""
