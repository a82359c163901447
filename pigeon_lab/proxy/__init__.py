"""pigeon-lab's fault proxy: a Toxiproxy 2.x compatible server and its client.

Modules, from the wire up: `addr` (host:port), `gojson` (JSON as Go reads and
writes it), `model` (proxies, toxics, request bodies), `toxics` (what each toxic
does to a stream), `link` (one direction of a connection: its chain and pump),
`connection` (the two sockets of a connection and its two links), `sockets`
(listening sockets shared by proxies, routed by source address), `listener`
(one proxy), `collection` (the proxies by name), `api` (the HTTP
routes), `server` (the server and its process entry), `client` (the typed
layer over toxiproxy-python that fault code uses). The supervised process is
`pigeon_lab.cluster.fault_proxy` (the cluster starts it; this package imports no
cluster module).
"""
