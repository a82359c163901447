"""The load generator: simulated chat users (Locust), the client algorithm, read-back.

Importing this package imports neither Locust nor gevent: only ``user.py``,
``process.py`` and ``worker.py`` do, and only the load process imports them.
Parent-side API: ``launcher.run_load``, ``config.LoadConfig``, ``readback.read_back``.
"""
