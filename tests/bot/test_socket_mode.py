"""Socket Mode, end to end: the bot opens a websocket to (fake) Slack and gets commands and clicks down it.

No request reaches ``/slack/events`` in this mode; everything comes as an envelope the bot must acknowledge on the
socket (Slack retries what isn't acknowledged within 3 s), and replies go by response_url and the Web API as ever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from tests.support.bot import ADMIN, CHANNEL, MEMBER, RunningBot, bot_settings
from tests.support.fake_slack import APP_ID, APP_TOKEN, BOT_TOKEN, FakeSlack, text_of
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient
from tests.support.slack_requests import block_actions, slash_command

# Slack gives up on an unacknowledged envelope after 3 s; the bot should be far inside that.
ACK_WITHIN_SECONDS = 1.0
# Loggers whose warnings would mean the socket, Bolt or the bot went wrong (a clean stop logs none of them).
WATCHED_LOGGERS = (
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "asyncio",
    "bot",
    "handlers",
    "slack_ui",
    "storage",
    "sync2books",
)


def command_payload(text: str, *, user_id: str, channel_id: str, response_url: str) -> dict[str, Any]:
    """A slash command as Socket Mode delivers it: the HTTP form's fields, as a JSON object."""
    body, _ = slash_command(text, user_id=user_id, channel_id=channel_id, response_url=response_url)
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def interactive_payload(**kw: Any) -> dict[str, Any]:
    """A block_actions click as Socket Mode delivers it: the ``payload`` the HTTP form would carry, decoded."""
    body, _ = block_actions(**kw)
    return dict(json.loads(dict(parse_qsl(body.decode()))["payload"]))


def socket_settings(fake: FakeSlack, database_url: str, sandbox: SandboxServer) -> Settings:
    return bot_settings(fake, database_url, sandbox.url, slack_app_token=APP_TOKEN, slack_signing_secret=None)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not so after {timeout} s"
        await asyncio.sleep(0.01)


def trouble(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings and errors from the watched loggers, and anything logged with a traceback, from any thread."""
    return [
        f"{record.name} {record.levelname}: {record.getMessage()}"
        + (f"\n{logging.Formatter().formatException(record.exc_info)}" if record.exc_info else "")
        for record in caplog.records
        if record.exc_info or (record.levelno >= logging.WARNING and record.name.startswith(WATCHED_LOGGERS))
    ]


# --- the fake's Socket Mode, checked with slack_sdk and a bare websocket --------------------------------------------


async def test_apps_connections_open_takes_the_app_token_and_nothing_else(fake_slack: FakeSlack) -> None:
    web = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    opened = await web.apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(f"ws://127.0.0.1:{fake_slack.url.rsplit(':', 1)[1]}/socket/")

    with pytest.raises(SlackApiError) as bot_token:
        await web.apps_connections_open(app_token=BOT_TOKEN)
    assert bot_token.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as unknown:
        await web.apps_connections_open(app_token="xapp-1-revoked")
    assert unknown.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as app_token_elsewhere:
        await AsyncWebClient(token=APP_TOKEN, base_url=fake_slack.api_url).chat_postMessage(channel=CHANNEL, text="x")
    assert app_token_elsewhere.value.response["error"] == "not_allowed_token_type"
    assert fake_slack.messages(CHANNEL) == []
    assert APP_TOKEN not in repr(fake_slack.calls)


async def test_the_socket_greets_delivers_and_records_acks(fake_slack: FakeSlack) -> None:
    url = (await AsyncWebClient(base_url=fake_slack.api_url).apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError):  # a made-up socket id is refused
            await http.ws_connect(url.rsplit("/", 1)[0] + "/not-issued")
        async with http.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": APP_ID} and "debug_info" in hello
            await fake_slack.wait_for_socket()

            envelope_id = await fake_slack.socket_send("events_api", {"type": "event_callback"})
            envelope = await ws.receive_json(timeout=5)
            assert envelope == {
                "envelope_id": envelope_id,
                "type": "events_api",
                "payload": {"type": "event_callback"},
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
            await ws.send_json({"envelope_id": envelope_id, "payload": {"text": "seen"}})
            assert await fake_slack.wait_for_socket_ack(envelope_id) == {
                "envelope_id": envelope_id,
                "payload": {"text": "seen"},
            }
            await ws.ping(b"are-you-there")  # a protocol-level ping is answered, not taken for a message
            again = await fake_slack.socket_send("interactive", {"type": "block_actions"})
            assert (await ws.receive_json(timeout=5))["envelope_id"] == again
            assert fake_slack.socket_received == [json.dumps({"envelope_id": envelope_id, "payload": {"text": "seen"}})]
        await fake_slack.wait_for_socket(connected=False)
        assert fake_slack.socket_close_codes == [1000]
        with pytest.raises(aiohttp.WSServerHandshakeError):  # and its URL was good for one connection
            await http.ws_connect(url)
    with pytest.raises(AssertionError, match="no Socket Mode connection is open"):
        await fake_slack.socket_send("interactive", {})


async def test_closing_the_fake_closes_its_sockets() -> None:
    with FakeSlack() as fake:
        url = (await AsyncWebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN))["url"]
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            await fake.wait_for_socket()
            # In a thread, so this loop goes on reading and can answer the close as a client does.
            await asyncio.to_thread(fake.__exit__, None, None, None)
            closed = await ws.receive(timeout=5)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1001  # going away


# --- the bot in Socket Mode ---------------------------------------------------------------------------------------


async def test_the_bot_works_over_socket_mode_and_stops_cleanly(
    fake_slack: FakeSlack,
    sandbox: SandboxServer,
    bot_database: str,
    client: SandboxClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with RunningBot(socket_settings(fake_slack, bot_database, sandbox), fake_slack) as bot:
        assert "Socket Mode" in bot.lines[0]
        await fake_slack.wait_for_socket()
        (opened,) = fake_slack.calls_to("apps.connections.open")
        assert opened.error is None

        # Nothing listens where Slack would post in HTTP mode; the health check still answers.
        refused = await bot.sender.command("help", user_id=ADMIN, channel_id=CHANNEL)
        assert refused.status_code == 404
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{bot.url}/healthz")
        assert health.status_code == 200 and health.json() == {"ok": True, "mode": "socket"}

        # help: acknowledged on the socket at once, answered on the response_url.
        started = time.perf_counter()
        helped = await fake_slack.socket_send(
            "slash_commands",
            command_payload("help", user_id=MEMBER, channel_id=CHANNEL, response_url=fake_slack.response_url("help")),
            accepts_response_payload=True,
        )
        ack = await fake_slack.wait_for_socket_ack(helped)
        took = time.perf_counter() - started
        assert ack == {"envelope_id": helped}
        assert took < ACK_WITHIN_SECONDS, f"the ack took {took:.2f} s"
        (usage,) = await fake_slack.wait_for_responses("help")
        assert usage["response_type"] == "ephemeral"
        assert "/sync2books register <company name>" in text_of(usage)

        # register: the channel hears it, the company exists with Sync2Books.
        registered = await fake_slack.socket_send(
            "slash_commands",
            command_payload(
                "register Socket Ltd", user_id=ADMIN, channel_id=CHANNEL, response_url=fake_slack.response_url("reg")
            ),
            accepts_response_payload=True,
        )
        assert await fake_slack.wait_for_socket_ack(registered) == {"envelope_id": registered}
        await fake_slack.wait_for("chat.postMessage", timeout=10)
        (announcement,) = fake_slack.messages(CHANNEL)
        assert f"<@{ADMIN}> registered *Socket Ltd* with Sync2Books" in text_of(announcement)
        assert [company.name for company in (await client.list_companies()).results] == ["Socket Ltd"]

        # a click: acknowledged, and its answer goes to the click's response_url.
        clicked = await fake_slack.socket_send(
            "interactive",
            interactive_payload(
                user_id=ADMIN,
                action_id="disconnect_cancel",
                value="cancel",
                channel_id=CHANNEL,
                message_ts=announcement["ts"],
                response_url=fake_slack.response_url("cancel"),
            ),
        )
        assert await fake_slack.wait_for_socket_ack(clicked) == {"envelope_id": clicked}
        (cancelled,) = await fake_slack.wait_for_responses("cancel")
        assert cancelled.get("delete_original") is True

        stopping = time.perf_counter()
    stopped_in = time.perf_counter() - stopping

    assert stopped_in < 5, f"the bot took {stopped_in:.1f} s to stop"
    await fake_slack.wait_for_socket(connected=False)
    assert fake_slack.socket_close_codes == [1000]  # the bot said goodbye; the connection did not just drop
    assert fake_slack.sockets_opened == 1
    assert trouble(caplog) == []


async def test_the_bot_reconnects_when_slack_asks_it_to(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with RunningBot(socket_settings(fake_slack, bot_database, sandbox), fake_slack):
        await fake_slack.wait_for_socket()
        await fake_slack.socket_disconnect("refresh_requested")
        await fake_slack.wait_for("apps.connections.open", count=2)
        await until(lambda: fake_slack.sockets_opened == 2 and len(fake_slack.socket_close_codes) == 1)
        assert fake_slack.socket_close_codes == [1000]  # the bot closed the old connection itself
        await fake_slack.wait_for_socket()

        helped = await fake_slack.socket_send(
            "slash_commands",
            command_payload("help", user_id=MEMBER, channel_id=CHANNEL, response_url=fake_slack.response_url("help")),
        )
        assert await fake_slack.wait_for_socket_ack(helped) == {"envelope_id": helped}
        await fake_slack.wait_for_responses("help")
    await fake_slack.wait_for_socket(connected=False)
    assert fake_slack.socket_close_codes == [1000, 1000]
    assert trouble(caplog) == []
