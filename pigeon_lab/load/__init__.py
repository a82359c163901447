"""The load generator: simulated users (Locust), the client algorithm, read-back.

Importing this package imports neither Locust nor gevent: only ``user.py``,
``adversary.py``, ``chat_users.py``, ``lean_client.py``, ``sio_client.py`` and
``process.py`` do, and only the load process (``python -m pigeon_lab.load``) imports them.
Parent-side API: ``launcher.run_load``, ``config.LoadConfig``, ``readback.read_back``.
"""
