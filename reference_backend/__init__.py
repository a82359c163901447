"""The bundled reference backend of the Pigeon channel protocol v1 (python-socketio + Redis).

Independent of `pigeon_lab`. Run a node with `python -m reference_backend --help`.
Modules: settings (flags), auth (JWT), validation (payloads), store + send.lua (Redis log),
ratelimit, adapter (instrumented Redis manager), handlers (events), metrics, app (node and
HTTP endpoints), flaws (deliberate flaws for self-tests), __main__ (uvicorn and drain).
"""

__all__: list[str] = []
