"""Toxiproxy 2.x's HTTP API on aiohttp: the same routes, status codes, bodies and errors.

Every route of Toxiproxy's `api.go` is here. Like gorilla/mux, an unknown path
is a 404 (`404 page not found`) and a known path with the wrong method a 405
(empty body), before any middleware runs. On a matched route, a `User-Agent`
starting with `Mozilla/` is refused (403, `User agent not allowed`): the API
must not be driven by a web page. Errors are `{"error": msg, "status": code}`
written the way Go's `http.Error` writes them: `text/plain; charset=utf-8`,
`X-Content-Type-Options: nosniff`, and a trailing newline.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from pigeon_lab.proxy import gojson
from pigeon_lab.proxy.collection import ProxyCollection
from pigeon_lab.proxy.gojson import ApiError
from pigeon_lab.proxy.listener import Proxy
from pigeon_lab.proxy.model import (
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
)

log = logging.getLogger("pigeon_lab.proxy")

TOXIPROXY_VERSION = "2.12.0"  # the API level spoken
VERSION = f"{TOXIPROXY_VERSION}+pigeon-lab"
REQUEST_TIMEOUT_S = 25.0  # http.TimeoutHandler in Toxiproxy
TIMEOUT_BODY = "<html><head><title>Timeout</title></head><body><h1>Timeout</h1></body></html>"
COLLECTION: web.AppKey[ProxyCollection] = web.AppKey("collection", ProxyCollection)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def go_error(message: str, status: int) -> web.Response:
    """What Go's `http.Error(w, message, status)` sends."""
    return web.Response(
        status=status,
        body=(message + "\n").encode(),
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def api_error(exc: ApiError) -> web.Response:
    return go_error(gojson.dumps(exc.to_json()).decode(), exc.status)


def json_response(value: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=gojson.dumps(value), headers={"Content-Type": "application/json"}
    )


@web.middleware
async def toxiproxy_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Routing errors as gorilla/mux gives them, then the browser refusal, a timeout, errors."""
    http_exc = request.match_info.http_exception
    request_id = {"X-Toxiproxy-Request-Id": secrets.token_hex(10)}
    if isinstance(http_exc, web.HTTPMethodNotAllowed):
        return web.Response(status=405)
    if http_exc is not None:
        return go_error("404 page not found", 404)
    response: web.StreamResponse
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        response = go_error("User agent not allowed", 403)
    else:
        try:
            response = await asyncio.wait_for(handler(request), REQUEST_TIMEOUT_S)
        except ApiError as exc:
            response = api_error(exc)
        except TimeoutError:
            response = web.Response(status=503, text=TIMEOUT_BODY, content_type="text/html")
    if isinstance(response, web.Response):
        response.headers.update(request_id)
    return response


async def _body(request: web.Request) -> object:
    return gojson.decode_body(await request.read())


def _collection(request: web.Request) -> ProxyCollection:
    return request.app[COLLECTION]


async def reset(request: web.Request) -> web.Response:
    await _collection(request).reset()
    log.info("reset: every proxy enabled, every toxic removed")
    return web.Response(status=204)


async def proxy_index(request: web.Request) -> web.Response:
    proxies = _collection(request).proxies
    return json_response({name: proxies[name].to_json() for name in sorted(proxies)})


async def proxy_create(request: web.Request) -> web.Response:
    config = parse_proxy_create(await _body(request))
    proxy = await _collection(request).add(config)
    return json_response(proxy.to_json(), 201)


async def populate(request: web.Request) -> web.Response:
    """201 with `{"proxies": [...]}`; on an error its status, the error and the partial list."""
    try:
        configs = parse_populate(await _body(request))
    except ApiError as exc:
        done: list[Proxy] = []
        error: ApiError | None = exc
    else:
        done, error = await _collection(request).populate(configs)
    listed = [p.to_json() for p in done] or None  # Go marshals an empty list here as null
    if error is None:
        return json_response({"proxies": listed}, 201)
    return json_response({**error.to_json(), "proxies": listed}, error.status)


async def proxy_show(request: web.Request) -> web.Response:
    return json_response(_collection(request).get(request.match_info["proxy"]).to_json())


async def proxy_update(request: web.Request) -> web.Response:
    collection = _collection(request)
    proxy = collection.get(request.match_info["proxy"])
    config = parse_proxy_update(await _body(request), proxy.config())
    await collection.update(proxy.name, config)
    return json_response(proxy.to_json())


async def proxy_delete(request: web.Request) -> web.Response:
    await _collection(request).remove(request.match_info["proxy"])
    return web.Response(status=204)


async def toxic_index(request: web.Request) -> web.Response:
    proxy = _collection(request).get(request.match_info["proxy"])
    return json_response([t.to_json() for t in proxy.toxics()])


async def toxic_create(request: web.Request) -> web.Response:
    proxy = _collection(request).get(request.match_info["proxy"])
    toxic_request = parse_toxic_create(await _body(request))
    return json_response(proxy.add_toxic(toxic_request).to_json())


async def toxic_show(request: web.Request) -> web.Response:
    proxy = _collection(request).get(request.match_info["proxy"])
    return json_response(proxy.get_toxic(request.match_info["toxic"]).to_json())


async def toxic_update(request: web.Request) -> web.Response:
    proxy = _collection(request).get(request.match_info["proxy"])
    toxic = proxy.update_toxic(request.match_info["toxic"], await _body(request))
    return json_response(toxic.to_json())


async def toxic_delete(request: web.Request) -> web.Response:
    proxy = _collection(request).get(request.match_info["proxy"])
    proxy.remove_toxic(request.match_info["toxic"])
    return web.Response(status=204)


async def version(request: web.Request) -> web.Response:
    return web.Response(
        body=f'{{"version": "{VERSION}"}}\n'.encode(),
        headers={"Content-Type": "application/json;charset=utf-8"},
    )


def make_app(collection: ProxyCollection) -> web.Application:
    """The API's aiohttp application over `collection`."""
    app = web.Application(middlewares=[toxiproxy_middleware])
    app[COLLECTION] = collection
    r = app.router
    r.add_post("/reset", reset)
    r.add_get("/proxies", proxy_index, allow_head=False)
    r.add_post("/proxies", proxy_create)
    r.add_post("/populate", populate)
    r.add_get("/proxies/{proxy}", proxy_show, allow_head=False)
    r.add_post("/proxies/{proxy}", proxy_update)
    r.add_patch("/proxies/{proxy}", proxy_update)
    r.add_delete("/proxies/{proxy}", proxy_delete)
    r.add_get("/proxies/{proxy}/toxics", toxic_index, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics", toxic_create)
    r.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    r.add_get("/version", version, allow_head=False)
    return app
