"""Answers the sandbox never gives but a real service or a proxy in front of it can: 500s, 502s, HTML bodies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from apiclient.retry import RetryPolicy
from sync2books.client import Sync2BooksClient
from sync2books.errors import ServerError, Sync2BooksAPIError
from tests.support.sandbox import TEST_KEY
from tests.support.servers import ThreadedServer


class ScriptedService:
    """A real HTTP server on 127.0.0.1 that answers a script of responses, then 200 with ``{}``-shaped data."""

    def __init__(self) -> None:
        self.script: list[Response] = []
        self.requests = 0

        async def answer(request: Request) -> Response:
            self.requests += 1
            if self.script:
                return self.script.pop(0)
            return JSONResponse({"results": [], "page": 1, "pageSize": 100, "total": 0})

        app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
        self._server = ThreadedServer(app, "scripted service")
        self.url = self._server.url

    def __enter__(self) -> ScriptedService:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()


@pytest.fixture
def service() -> Iterator[ScriptedService]:
    with ScriptedService() as running:
        yield running


def contract_error(status: int, code: str) -> JSONResponse:
    body = {"error": {"code": code, "message": "Something broke", "details": [], "requestId": "req_abc"}}
    return JSONResponse(body, status_code=status)


async def test_a_500_is_retried_for_an_idempotent_call_and_then_succeeds(service: ScriptedService) -> None:
    service.script = [contract_error(500, "internal_error"), contract_error(500, "internal_error")]
    async with Sync2BooksClient(service.url, TEST_KEY, retry=RetryPolicy(backoff_base=0.01)) as client:
        page = await client.list_companies()
    assert (page.total, service.requests) == (0, 3)


async def test_a_500_that_persists_is_a_typed_server_error(service: ScriptedService) -> None:
    service.script = [contract_error(500, "internal_error")] * 3
    async with Sync2BooksClient(service.url, TEST_KEY, retry=RetryPolicy(max_retries=2, backoff_base=0.01)) as client:
        with pytest.raises(ServerError) as failed:
            await client.list_companies()
    assert (failed.value.status, failed.value.code, failed.value.request_id) == (500, "internal_error", "req_abc")
    assert str(failed.value) == "500 internal_error: Something broke [request req_abc]"


async def test_a_proxy_page_instead_of_an_error_body_is_still_a_typed_error(service: ScriptedService) -> None:
    service.script = [PlainTextResponse("<html>Bad gateway</html>", status_code=502)] * 2
    async with Sync2BooksClient(service.url, TEST_KEY, retry=RetryPolicy(max_retries=1, backoff_base=0.01)) as client:
        with pytest.raises(ServerError) as failed:
            await client.get_company("c1")
        service.script = [PlainTextResponse("I'm a teapot", status_code=418)]
        with pytest.raises(Sync2BooksAPIError) as odd:
            await client.get_company("c1")
    assert (failed.value.status, failed.value.code) == (502, "internal_error")
    assert "without an error body" in failed.value.message
    assert (type(odd.value), odd.value.status, odd.value.code) == (Sync2BooksAPIError, 418, "http_418")
