"""`noema serve`: the engine behind an OpenAI-compatible HTTP API, plus the Noema stream.

`app` builds the FastAPI application (routes in `routes`), `scheduler` runs one generation at
a time per loaded model in a worker thread and queues the rest, `schemas` turns request bodies
into `DecodingSettings`, `streaming` writes server-sent events, `errors` keeps every failure in
OpenAI's error shape, and `runner` loads the model and runs uvicorn.
"""
