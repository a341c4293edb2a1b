"""A fake Slack Web API on 127.0.0.1, in a thread of its own, for tests that talk HTTP to it.

The bot's real ``AsyncWebClient`` points at ``FakeSlack.api_url``; the fake answers as Slack does (shapes, error
codes, block limits, 429s) and keeps what a user would see — messages, threads, ephemerals, modals, App Home — so
tests can assert on that rather than on call counts alone.

Socket Mode too: ``apps.connections.open`` (app-level token only) hands out a ``ws://`` URL the fake serves; the
fake greets with Slack's ``hello``, ``socket_send`` pushes envelopes down the socket and ``wait_for_socket_ack``
returns what the app acknowledged. The socket lives on the fake's own loop; those methods are safe to await from
the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from tests.support import block_kit
from tests.support.servers import ThreadedServer

BOT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0001"
TEAM_NAME = "Test Team"
TEAM_DOMAIN = "test-team"
BOT_USER_ID = "UBOT"
BOT_NAME = "sync2books"
BOT_ID = "B0001"
APP_ID = "A0001"
APP_TOKEN = "xapp-1-test-app-token"

# Fields Slack documents as "a JSON-based ... presented as a URL-encoded string" when sent form-encoded.
JSON_STRING_FIELDS = ("blocks", "metadata", "view", "attachments")
# Slack lets a trigger_id open one view, within 3 s of the user's action.
TRIGGER_TTL_SECONDS = 3.0
# Our builders put the issue time (epoch ms) first in a trigger_id; anything smaller is a hand-made id, not checked.
_EPOCH_MS_FLOOR = 1_000_000_000_000
# The methods that take the app-level token (xapp-…), and only it; every other method wants the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
# What Socket Mode delivers in an envelope's "type".
ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})
# The answers that mean "what you sent is malformed": the sender's fault, never a state of the workspace. A test
# that makes the fake answer one of them fails at the fake's exit unless it said it expects that refusal.
PAYLOAD_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "invalid_metadata_format",
        "invalid_json",
        "msg_too_long",
        "no_text",
        "invalid_ack",
        "used_url",
    }
)
# Slack takes at most five posts to one response_url (within 30 minutes).
RESPONSE_URL_USES = 5

Json = dict[str, Any]
Handler = Callable[[Json], Json]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the fake received it (the token is never kept)."""

    method: str
    params: Json
    at: float  # time.monotonic() when the fake received it
    # How the params arrived: "query", "form", "json", "multipart" or a "+"-joined mix (POST with a query string).
    encoding: str = ""
    rate_limited: bool = False
    error: str | None = None  # the error the fake answered with, if any


@dataclass(frozen=True)
class Refusal:
    """A payload Slack would have refused: where it went, Slack's error and its messages."""

    where: str  # the Web API method, "response_url" or the ack of an interaction
    error: str
    messages: tuple[str, ...] = ()
    sent: str = ""  # the payload, shortened, for the failure message

    def __str__(self) -> str:
        said = "; ".join(self.messages[:5]) + (f" (+{len(self.messages) - 5} more)" if len(self.messages) > 5 else "")
        return f"{self.where}: {self.error}: {said}\n    sent: {self.sent}"


@dataclass
class _Message:
    channel: str
    ts: str
    text: str = ""
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    metadata: Json | None = None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    bot_id: str | None = BOT_ID
    reply_broadcast: bool = False
    edited_ts: str | None = None


@dataclass
class _Ephemeral:
    channel: str
    user: str
    ts: str
    text: str = ""
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class _Response:
    key: str
    payload: Json
    at: float


@dataclass
class _User:
    id: str
    name: str
    real_name: str
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "UTC"
    email: str | None = None


@dataclass
class _File:
    id: str
    name: str
    mimetype: str
    filetype: str
    size: int
    content: bytes
    user: str
    title: str
    created: int = field(default_factory=lambda: int(time.time()))
    download_url: str | None = None  # what files.info names, when not the fake's own file host
    redirect_to: str | None = None  # the download answers with a redirect there


@dataclass
class _Injection:
    times: int
    error: str
    retry_after: int | None = None  # set for 429s


def text_of(item: Mapping[str, Any] | None) -> str:
    """Everything a user would read in a message or view, flattened into one string for asserts.

    Covers ``text``, every block's text (sections, fields, context, headers, inputs' labels, buttons), buttons'
    urls, attachments, and a view's title/submit/close. Never metadata or private_metadata: users don't see those.
    """
    if not item:
        return ""
    parts: list[tuple[str, bool]] = []
    _collect_text(item, parts)
    return "\n".join(text if plain else _unescape(text) for text, plain in parts if text)


def markup_of(item: Mapping[str, Any] | None) -> str:
    """The texts Slack parses for markup (mrkdwn and the ``text`` fallback; not plain_text), as Slack receives
    them, before it turns ``&lt;`` into ``<``: where an unescaped ``<!channel>`` would ping everyone."""
    if not item:
        return ""
    parts: list[tuple[str, bool]] = []
    _collect_text(item, parts)
    return "\n".join(text for text, plain in parts if text and not plain)


def _unescape(text: str) -> str:
    """What a person reads: Slack shows the three escaped characters as themselves."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_TEXT_KEYS = frozenset({"text", "url", "title", "pretext", "fallback", "footer", "author_name"})
_HIDDEN_KEYS = frozenset({"metadata", "private_metadata", "state", "value", "action_id", "block_id", "callback_id"})


def _collect_text(node: Any, parts: list[tuple[str, bool]]) -> None:
    """(text, is plain_text) pairs: Slack shows plain_text as it is and parses the rest."""
    if isinstance(node, Mapping):
        plain = node.get("type") == "plain_text"
        for key, value in node.items():
            if key in _HIDDEN_KEYS:
                continue
            if isinstance(value, str):
                if key in _TEXT_KEYS:
                    parts.append((value, plain))
            else:
                _collect_text(value, parts)
    elif isinstance(node, list | tuple):
        for child in node:
            _collect_text(child, parts)


class FakeSlack:
    """Starts in ``__enter__``, stops in ``__exit__``; ``api_url`` is the base URL to give slack_sdk."""

    def __init__(
        self,
        *,
        valid_tokens: Iterable[str] = (BOT_TOKEN,),
        valid_app_tokens: Iterable[str] = (APP_TOKEN,),
        trigger_ttl: float | None = TRIGGER_TTL_SECONDS,
    ):
        self.valid_tokens: set[str] = set(valid_tokens)
        self.valid_app_tokens: set[str] = set(valid_app_tokens)
        # None turns off the expired_trigger_id check, e.g. when stepping through a test in a debugger.
        self.trigger_ttl = trigger_ttl
        self._lock = threading.Lock()
        self._calls: list[SlackCall] = []
        self._messages: dict[str, list[_Message]] = {}
        self._ephemerals: list[_Ephemeral] = []
        self._views: dict[str, Json] = {}
        self._homes: dict[str, Json] = {}
        self._used_triggers: set[str] = set()
        self._users: dict[str, _User] = {}
        self._channels: dict[str, str] = {}
        self._memberships: dict[str, list[str]] = {}
        # Channels the bot is not a member of (it is in every other one, as the tests mostly want).
        self._bot_absent: set[str] = set()
        self._files: dict[str, _File] = {}
        self._responses: list[_Response] = []
        self._injections: dict[str, list[_Injection]] = {}
        self._refusals: list[Refusal] = []
        self._expected_refusals: set[str] = set()
        self._ts_micros = 1_700_000_000_000_000
        self._view_serial = 0
        # Socket Mode. The websockets themselves are touched only on the fake's loop; the rest under the lock.
        self._socket_tickets: set[str] = set()  # ids handed out by apps.connections.open, not yet connected
        self._sockets: dict[str, WebSocket] = {}  # open connections, oldest first
        self._sockets_opened = 0
        self._socket_close_codes: list[int] = []  # how each connection ended, as the fake saw it
        self._socket_received: list[str] = []  # every text frame the app sent, as sent
        self._acks: dict[str, Json] = {}
        # Where apps.connections.open sends the app: None for the fake's own socket, or a URL that fails on purpose.
        self.socket_url: str | None = None
        self.add_user(BOT_USER_ID, name=BOT_NAME, real_name="Sync2Books", is_bot=True)

        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.conversations": self._users_conversations,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
        }
        app = Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/response/{key}", self._response_url, methods=["POST"]),
                Route("/files-pri/{team_file}/{rest:path}", self._file_download, methods=["GET"]),
                WebSocketRoute("/socket/{socket_id}", self._socket),
            ]
        )
        self._server = ThreadedServer(app, "fake Slack", lifespan="off")
        self.url = self._server.url
        self.api_url = f"{self.url}/api/"

    # --- lifecycle -------------------------------------------------------------------------------------------

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return self._server.loop

    def __enter__(self) -> FakeSlack:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        loop = self._loop
        if loop is not None and self._server.running and self.socket_connected:
            # Going away (1001), as a server that shuts down says; otherwise uvicorn would answer 1012 (restart).
            closing = asyncio.run_coroutine_threadsafe(self._close_sockets(1001), loop)
            with contextlib.suppress(Exception):
                closing.result(timeout=5)
        self._server.stop()
        if exc_info and exc_info[0] is None:
            self.assert_no_refusals()

    # --- payloads Slack would refuse -------------------------------------------------------------------------

    def expect_refusals(self, *errors: str) -> None:
        """The test means to send payloads Slack refuses with these errors (``invalid_blocks``…); without this,
        any refusal of a malformed payload fails the test when the fake stops."""
        with self._lock:
            self._expected_refusals.update(errors or PAYLOAD_ERRORS)

    @property
    def refusals(self) -> list[Refusal]:
        with self._lock:
            return list(self._refusals)

    def record_refusal(self, where: str, error: str, messages: Iterable[str], sent: Any) -> None:
        """For the request helpers: an ack body (a view or options) that Slack would not take."""
        with self._lock:
            self._refusals.append(Refusal(where, error, tuple(messages), _shortened(sent)))

    def assert_no_refusals(self) -> None:
        with self._lock:
            unexpected = [r for r in self._refusals if r.error not in self._expected_refusals]
        if unexpected:
            listed = "\n  ".join(str(r) for r in unexpected)
            raise AssertionError(f"Slack would have refused {len(unexpected)} payload(s) the test sent:\n  {listed}")

    # --- arranging the workspace -----------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "UTC",
        email: str | None = None,
    ) -> None:
        name = name or user_id.lower()
        user = _User(
            id=user_id,
            name=name,
            real_name=real_name or name,
            is_admin=is_admin,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            is_bot=is_bot,
            deleted=deleted,
            tz=tz,
            email=email,
        )
        with self._lock:
            self._users[user_id] = user

    def add_channel(self, channel_id: str, *, name: str) -> None:
        with self._lock:
            self._channels[channel_id] = name

    def add_membership(self, user_id: str, channel_id: str) -> None:
        with self._lock:
            channels = self._memberships.setdefault(user_id, [])
            if channel_id not in channels:
                channels.append(channel_id)

    def remove_bot(self, channel_id: str) -> None:
        """The bot is not in the channel: posting there answers not_in_channel (channel_not_found if private)."""
        with self._lock:
            self._bot_absent.add(channel_id)

    def invite_bot(self, channel_id: str) -> None:
        """``/invite @Sync2Books``: the bot is a member again (send the member_joined_channel event yourself)."""
        with self._lock:
            self._bot_absent.discard(channel_id)

    def add_file(
        self,
        file_id: str,
        *,
        name: str,
        mimetype: str,
        content: bytes,
        size: int | None = None,
        filetype: str | None = None,
        user: str = "U0001",
        title: str | None = None,
        download_url: str | None = None,
        redirect_to: str | None = None,
    ) -> None:
        filetype = filetype or (name.rsplit(".", 1)[-1].lower() if "." in name else "binary")
        stored = _File(
            id=file_id,
            name=name,
            mimetype=mimetype,
            filetype=filetype,
            size=len(content) if size is None else size,
            content=content,
            user=user,
            title=title or name,
            download_url=download_url,
            redirect_to=redirect_to,
        )
        with self._lock:
            self._files[file_id] = stored

    def add_message(
        self, channel: str, text: str, *, user: str, ts: str | None = None, thread_ts: str | None = None
    ) -> str:
        """A message a person wrote (so history and threads hold more than the bot's own); returns its ts."""
        with self._lock:
            message = _Message(
                channel=channel, ts=ts or self._next_ts(), text=text, thread_ts=thread_ts, user=user, bot_id=None
            )
            self._messages.setdefault(channel, []).append(message)
            return message.ts

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM with a user, where Slack puts a message posted to the user's id."""
        return f"D{user_id[1:]}"

    # --- failure injection -----------------------------------------------------------------------------------

    def rate_limit(self, method: str, *, retry_after: int = 2, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``Retry-After``, as Slack's tiered limits do."""
        with self._lock:
            self._injections.setdefault(method, []).append(_Injection(times, "ratelimited", retry_after))

    def fail(self, method: str, error: str = "internal_error", *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._injections.setdefault(method, []).append(_Injection(times, error))

    # --- what was called -------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._lock:
            return [call for call in self._calls if call.method == method]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[SlackCall], bool] | None = None,
    ) -> list[SlackCall]:
        """All calls of ``method`` (matching ``where``) once there are at least ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [call for call in self.calls_to(method) if where is None or where(call)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = "\n".join(f"  {call.method} {_summary(call)}" for call in self.calls) or "  (none)"
                condition = " matching the predicate" if where is not None else ""
                raise AssertionError(
                    f"expected {count} call(s) of {method}{condition} within {timeout} s, "
                    f"found {len(found)}; calls seen:\n{seen}"
                )
            await asyncio.sleep(0.01)

    # --- what the user sees ----------------------------------------------------------------------------------

    def messages(self, channel: str) -> list[Json]:
        """The channel's current messages, thread replies included, oldest first."""
        with self._lock:
            return [self._seen(m) for m in self._sorted(self._resolve_channel(channel))]

    def thread(self, channel: str, ts: str) -> list[Json]:
        """A thread's parent and replies, oldest first (empty when there is no such message)."""
        with self._lock:
            return [self._seen(m) for m in self._thread_of(self._resolve_channel(channel), ts)]

    def ephemerals(self, channel: str, user: str | None = None) -> list[Json]:
        with self._lock:
            channel = self._resolve_channel(channel)
            return [
                {
                    "ts": e.ts,
                    "user": e.user,
                    "text": e.text,
                    "blocks": copy.deepcopy(e.blocks),
                    "attachments": copy.deepcopy(e.attachments),
                    "thread_ts": e.thread_ts,
                }
                for e in self._ephemerals
                if e.channel == channel and (user is None or e.user == user)
            ]

    def home(self, user_id: str) -> Json | None:
        """The App Home view last published for the user, or None."""
        with self._lock:
            home = self._homes.get(user_id)
            return copy.deepcopy(home) if home else None

    def view(self, view_id: str) -> Json | None:
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found else None

    def type_in(self, view_id: str, values: Json) -> None:
        """A person typing into an open modal: Slack holds it in the view's state (no request reaches the app,
        and the view's hash stays), and sends it with the next click or the submission."""
        with self._lock:
            view = self._views[view_id]
            view["state"] = {"values": {**view["state"].get("values", {}), **copy.deepcopy(values)}}

    def views(self) -> list[Json]:
        """Every modal opened or pushed, as last updated, in the order they were opened."""
        with self._lock:
            return [copy.deepcopy(v) for v in self._views.values()]

    # --- response_url ----------------------------------------------------------------------------------------

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    def responses(self, key: str | None = None) -> list[Json]:
        """JSON payloads posted to response URLs (of ``key`` only, if given), in arrival order."""
        with self._lock:
            return [copy.deepcopy(r.payload) for r in self._responses if key is None or r.key == key]

    async def wait_for_responses(self, key: str | None = None, *, count: int = 1, timeout: float = 5.0) -> list[Json]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.responses(key)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                with self._lock:
                    keys = sorted({r.key for r in self._responses})
                raise AssertionError(
                    f"expected {count} response(s) on response_url {key or '(any)'} within {timeout} s, "
                    f"found {len(found)}; keys that got responses: {keys}"
                )
            await asyncio.sleep(0.01)

    # --- Socket Mode -----------------------------------------------------------------------------------------

    @property
    def socket_connected(self) -> bool:
        """Whether an app holds a Socket Mode connection (greeted with ``hello``) right now."""
        with self._lock:
            return bool(self._sockets)

    @property
    def sockets_opened(self) -> int:
        """How many Socket Mode connections have been opened in all, reconnections included."""
        with self._lock:
            return self._sockets_opened

    @property
    def socket_close_codes(self) -> list[int]:
        """The close code of each connection that has ended, in order: 1000 when the app closed it cleanly."""
        with self._lock:
            return list(self._socket_close_codes)

    @property
    def socket_received(self) -> list[str]:
        """Every text frame apps sent over Socket Mode, as sent, oldest first."""
        with self._lock:
            return list(self._socket_received)

    async def wait_for_socket(self, timeout: float = 5.0, *, connected: bool = True) -> None:
        """Until an app is connected (or, with ``connected=False``, until no connection is left open)."""
        deadline = time.monotonic() + timeout
        while self.socket_connected != connected:
            if time.monotonic() >= deadline:
                state = "open" if connected else "closed"
                raise AssertionError(
                    f"no Socket Mode connection was {state} within {timeout} s; "
                    f"apps.connections.open calls: {[c.error or 'ok' for c in self.calls_to('apps.connections.open')]}"
                )
            await asyncio.sleep(0.01)

    async def socket_send(self, envelope_type: str, payload: Json, *, accepts_response_payload: bool = False) -> str:
        """Deliver ``payload`` over the newest Socket Mode connection, as Slack would; returns the envelope_id.

        ``envelope_type`` is "slash_commands" (payload: the command's fields, as the HTTP form has them),
        "interactive" (the interactivity payload itself) or "events_api" (the whole event_callback body).
        """
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(f"Socket Mode has no envelope type {envelope_type!r}; use one of {sorted(ENVELOPE_TYPES)}")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": copy.deepcopy(payload),
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self._on_fake_loop(self._send_on_socket(json.dumps(envelope)))
        return envelope_id

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's ``disconnect`` message on the newest connection: the app is to open a new one (the fake leaves
        the old one for the app to close, as Slack does for a while)."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        await self._on_fake_loop(self._send_on_socket(json.dumps(message)))

    async def close_sockets(self, code: int = 1001) -> None:
        """Close every Socket Mode connection from Slack's side (1001: going away), e.g. to test reconnecting."""
        await self._on_fake_loop(self._close_sockets(code))

    async def wait_for_socket_ack(self, envelope_id: str, timeout: float = 5.0) -> Json:
        """The message the app sent back for the envelope: ``{"envelope_id": …}``, plus ``"payload"`` if any."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                ack = self._acks.get(envelope_id)
                if ack is not None:
                    return copy.deepcopy(ack)
                acked = list(self._acks)
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no acknowledgement of envelope {envelope_id} within {timeout} s; acknowledged: {acked or 'none'}"
                )
            await asyncio.sleep(0.01)

    async def _on_fake_loop(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the fake's loop, where the websockets live, from whichever loop the caller is on."""
        loop = self._loop
        if loop is None or not self._server.running:
            work.close()
            raise RuntimeError("the fake Slack is not running")
        if asyncio.get_running_loop() is loop:
            await work
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))

    async def _send_on_socket(self, text: str) -> None:
        with self._lock:
            newest = next(reversed(self._sockets.values()), None)
        if newest is None:
            raise AssertionError("no Socket Mode connection is open: did the app call apps.connections.open?")
        try:
            await newest.send_text(text)
        except Exception as exc:  # the socket closed under us: uvicorn and Starlette raise several kinds
            raise AssertionError(f"the Socket Mode connection closed before the message went out: {exc!r}") from exc

    async def _close_sockets(self, code: int) -> None:
        with self._lock:
            sockets = list(self._sockets.values())
        for websocket in sockets:
            with contextlib.suppress(Exception):  # already closing from the other side
                await websocket.close(code=code)

    # --- HTTP routes -----------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        token = _bearer(request)
        try:
            params, encoding = await _read_params(request)
        except ValueError:
            params, encoding = {}, "invalid"
        params.pop("token", None)  # never kept: calls are printed in failure messages

        headers: dict[str, str] = {}
        status = 200
        rate_limited = False
        with self._lock:
            if refusal := self._token_problem(token, method):
                answer: Json = {"ok": False, "error": refusal}
            elif encoding == "invalid":
                answer = {"ok": False, "error": "invalid_json"}
            elif injection := self._take_injection(method):
                answer = {"ok": False, "error": injection.error}
                if injection.retry_after is not None:
                    status, rate_limited = 429, True
                    headers["Retry-After"] = str(injection.retry_after)
            else:
                answer = self._handlers.get(method, _ok)(params)
                if not answer.get("ok") and answer.get("error") in PAYLOAD_ERRORS:
                    messages = (answer.get("response_metadata") or {}).get("messages") or []
                    self._refusals.append(Refusal(method, str(answer["error"]), tuple(messages), _shortened(params)))
            error = None if answer.get("ok") else str(answer.get("error"))
            self._calls.append(SlackCall(method, params, time.monotonic(), encoding, rate_limited, error))
        return JSONResponse(answer, status_code=status, headers=headers)

    async def _response_url(self, request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        if not isinstance(payload, dict):
            return Response("invalid_payload", status_code=400, media_type="text/plain")
        error, messages = _response_problem(payload)
        key = request.path_params["key"]
        with self._lock:
            if not error and sum(r.key == key for r in self._responses) >= RESPONSE_URL_USES:
                error, messages = "used_url", [f"a response_url takes at most {RESPONSE_URL_USES} posts"]
                self._refusals.append(Refusal("response_url", error, tuple(messages), _shortened(payload)))
                return Response(error, status_code=404, media_type="text/plain")
            if error:
                # As incoming webhooks answer: 400 and the error as plain text; nothing is shown.
                self._refusals.append(Refusal("response_url", error, tuple(messages), _shortened(payload)))
                return Response(error, status_code=400, media_type="text/plain")
            self._responses.append(_Response(key, payload, time.monotonic()))
        return JSONResponse({"ok": True})

    async def _file_download(self, request: Request) -> Response:
        file_id = request.path_params["team_file"].removeprefix(f"{TEAM_ID}-")
        token = _bearer(request)
        with self._lock:
            stored = self._files.get(file_id)
            authorized = token is not None and token in self.valid_tokens
        if not authorized:
            # Slack answers an unauthenticated download with its sign-in page, not an error status.
            return HTMLResponse(_LOGIN_PAGE)
        if stored is None:
            return Response("File not found", status_code=404, media_type="text/plain")
        if stored.redirect_to:
            return Response(status_code=302, headers={"Location": stored.redirect_to})
        disposition = f'attachment; filename="{stored.name}"'
        return Response(stored.content, media_type=stored.mimetype, headers={"Content-Disposition": disposition})

    async def _socket(self, websocket: WebSocket) -> None:
        socket_id = websocket.path_params["socket_id"]
        with self._lock:
            issued = socket_id in self._socket_tickets
            self._socket_tickets.discard(socket_id)  # a URL from apps.connections.open is good for one connection
        if not issued:
            await websocket.close(code=1008)  # before accepting: the handshake is refused with 403
            return
        await websocket.accept()
        with self._lock:
            count = len(self._sockets) + 1
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        code = 1006
        try:
            await websocket.send_text(json.dumps(hello))
            # Only now is it open for envelopes: Slack sends nothing before hello.
            with self._lock:
                self._sockets[socket_id] = websocket
                self._sockets_opened += 1
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode(errors="replace")
                self._socket_message(text)
        except Exception:  # noqa: S110 - a dropped connection is how a socket may end; its code says so
            pass
        finally:
            with self._lock:
                self._sockets.pop(socket_id, None)
                self._socket_close_codes.append(code)

    def _socket_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        with self._lock:
            self._socket_received.append(text)
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                self._acks.setdefault(message["envelope_id"], message)

    # --- Web API methods (called with the lock held) ---------------------------------------------------------

    def _token_problem(self, token: str | None, method: str) -> str | None:
        """Slack's answer to the wrong token: none, an unknown one, or a real token of the wrong kind."""
        if token is None:
            return "not_authed"
        app_level = method in APP_TOKEN_METHODS
        if token in self.valid_app_tokens:
            return None if app_level else "not_allowed_token_type"
        if token in self.valid_tokens:
            return "not_allowed_token_type" if app_level else None
        return "invalid_auth"

    def _apps_connections_open(self, params: Json) -> Json:
        socket_id = secrets.token_urlsafe(16)
        if self.socket_url is not None:
            return {"ok": True, "url": f"{self.socket_url}?ticket={socket_id}"}
        self._socket_tickets.add(socket_id)
        return {"ok": True, "url": f"ws{self.url.removeprefix('http')}/socket/{socket_id}"}

    def _auth_test(self, params: Json) -> Json:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "team_id": TEAM_ID,
            "user": BOT_NAME,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _absent_problem(self, channel: str) -> Json | None:
        """Slack's answer where the bot is not a member: a private channel it is not in is not there for it."""
        if channel not in self._bot_absent:
            return None
        return {"ok": False, "error": "channel_not_found" if channel.startswith("G") else "not_in_channel"}

    def _chat_post_message(self, params: Json) -> Json:
        problem = _message_problem(params) or self._absent_problem(self._resolve_channel(str(params["channel"])))
        if problem:
            return problem
        channel = self._resolve_channel(str(params["channel"]))
        thread_ts = _str_or_none(params.get("thread_ts"))
        message = _Message(
            channel=channel,
            ts=self._next_ts(),
            text=str(params.get("text") or ""),
            blocks=params.get("blocks"),
            attachments=params.get("attachments"),
            metadata=params.get("metadata"),
            thread_ts=thread_ts,
            reply_broadcast=_flag(params.get("reply_broadcast")),
        )
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": self._present(message, metadata=True)}

    def _chat_update(self, params: Json) -> Json:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        if absent := self._absent_problem(channel):
            return absent
        message = self._find(channel, _str_or_none(params.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER_ID:
            return {"ok": False, "error": "cant_update_message"}
        if params.get("text") is None and params.get("blocks") is None and params.get("attachments") is None:
            return {"ok": False, "error": "no_text"}
        problem = _content_problem(params)
        if problem:
            return problem
        # As documented for chat.update: fields left out keep their previous value; an empty value clears them.
        if params.get("text") is not None:
            message.text = str(params["text"])
        if params.get("blocks") is not None:
            message.blocks = params["blocks"] or None
        if params.get("attachments") is not None:
            message.attachments = params["attachments"] or None
        if params.get("metadata") is not None:
            message.metadata = params["metadata"] or None
        message.edited_ts = self._next_ts()
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._present(message, metadata=True),
        }

    def _chat_delete(self, params: Json) -> Json:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        message = self._find(channel, _str_or_none(params.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.user != BOT_USER_ID:
            return {"ok": False, "error": "cant_delete_message"}
        self._messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": message.ts}

    def _chat_post_ephemeral(self, params: Json) -> Json:
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        problem = _message_problem(params) or self._absent_problem(str(params["channel"]))
        if problem:
            return problem
        ephemeral = _Ephemeral(
            channel=self._resolve_channel(str(params["channel"])),
            user=str(params["user"]),
            ts=self._next_ts(),
            text=str(params.get("text") or ""),
            blocks=params.get("blocks"),
            attachments=params.get("attachments"),
            thread_ts=_str_or_none(params.get("thread_ts")),
        )
        self._ephemerals.append(ephemeral)
        return {"ok": True, "message_ts": ephemeral.ts}

    def _views_open(self, params: Json) -> Json:
        problem = self._trigger_problem(params.get("trigger_id")) or _view_problem(params.get("view"))
        if problem:
            return problem
        view_id = self._next_view_id()
        view = _server_view(params["view"], view_id=view_id, root_view_id=view_id, previous_view_id=None)
        self._views[view_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_push(self, params: Json) -> Json:
        problem = self._trigger_problem(params.get("trigger_id")) or _view_problem(params.get("view"))
        if problem:
            return problem
        view_id = self._next_view_id()
        # Slack stacks the pushed view on the modal the trigger came from; the trigger doesn't tell us which.
        previous = next(reversed(self._views.values()), None)
        root = previous["root_view_id"] if previous else view_id
        view = _server_view(
            params["view"], view_id=view_id, root_view_id=root, previous_view_id=previous["id"] if previous else None
        )
        self._views[view_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_update(self, params: Json) -> Json:
        view_id = _str_or_none(params.get("view_id"))
        external_id = _str_or_none(params.get("external_id"))
        current = self._views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if current is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        problem = _view_problem(params.get("view"))
        if problem:
            return problem
        view = _server_view(
            params["view"],
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        view["state"] = current["state"]
        self._views[current["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_publish(self, params: Json) -> Json:
        user_id = _str_or_none(params.get("user_id"))
        if not user_id:
            return _invalid_arguments(["missing required field: user_id"])
        problem = _view_problem(params.get("view"), home=True)
        if problem:
            return problem
        current = self._homes.get(user_id)
        if current and params.get("hash") and params["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        view_id = current["id"] if current else self._next_view_id()
        view = _server_view(params["view"], view_id=view_id, root_view_id=view_id, previous_view_id=None)
        self._homes[user_id] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _users_info(self, params: Json) -> Json:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        offset = ZoneInfo(user.tz).utcoffset(datetime.now(UTC))
        profile: Json = {"real_name": user.real_name, "display_name": user.name}
        if user.email:
            profile["email"] = user.email
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": TEAM_ID,
                "name": user.name,
                "real_name": user.real_name,
                "deleted": user.deleted,
                "tz": user.tz,
                "tz_label": user.tz,
                "tz_offset": int(offset.total_seconds()) if offset else 0,
                "is_admin": user.is_admin,
                "is_owner": user.is_owner,
                "is_primary_owner": user.is_primary_owner,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "profile": profile,
            },
        }

    def _users_conversations(self, params: Json) -> Json:
        user_id = str(params.get("user") or BOT_USER_ID)
        channels = [{"id": channel} for channel in self._memberships.get(user_id, [])]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_info(self, params: Json) -> Json:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        is_im = channel.startswith("D")
        name = self._channels.get(channel, channel if is_im else f"channel-{channel.lower()}")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": name,
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": is_im,
                "is_private": not channel.startswith("C"),
                "is_member": channel not in self._bot_absent,
                "is_archived": False,
            },
        }

    def _conversations_history(self, params: Json) -> Json:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        if absent := self._absent_problem(channel):
            return absent
        # History holds top-level messages and broadcast replies; other replies live only in their thread.
        listed = [m for m in self._sorted(channel) if m.thread_ts in (None, m.ts) or m.reply_broadcast]
        return self._page(listed, params, newest_first=True)

    def _conversations_replies(self, params: Json) -> Json:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        if absent := self._absent_problem(channel):
            return absent
        thread = self._thread_of(channel, str(params.get("ts") or ""))
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return self._page(thread, params, newest_first=False)

    def _files_info(self, params: Json) -> Json:
        stored = self._files.get(str(params.get("file") or ""))
        if stored is None:
            return {"ok": False, "error": "file_not_found"}
        private = f"{self.url}/files-pri/{TEAM_ID}-{stored.id}/{stored.name}"
        return {
            "ok": True,
            "file": {
                "id": stored.id,
                "created": stored.created,
                "timestamp": stored.created,
                "name": stored.name,
                "title": stored.title,
                "mimetype": stored.mimetype,
                "filetype": stored.filetype,
                "pretty_type": stored.filetype.upper(),
                "user": stored.user,
                "user_team": TEAM_ID,
                "size": stored.size,
                "mode": "hosted",
                "is_external": False,
                "is_public": False,
                "url_private": stored.download_url or private,
                "url_private_download": stored.download_url
                or f"{self.url}/files-pri/{TEAM_ID}-{stored.id}/download/{stored.name}",
                "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{stored.user}/{stored.id}/{stored.name}",
            },
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    # --- helpers (called with the lock held) -----------------------------------------------------------------

    def _take_injection(self, method: str) -> _Injection | None:
        queue = self._injections.get(method)
        if not queue:
            return None
        injection = queue[0]
        injection.times -= 1
        if injection.times <= 0:
            queue.pop(0)
        return injection

    def _trigger_problem(self, trigger_id: Any) -> Json | None:
        if not trigger_id:
            return _invalid_arguments(["missing required field: trigger_id"])
        trigger = str(trigger_id)
        if trigger in self._used_triggers:
            return {"ok": False, "error": "trigger_exchanged"}
        issued_ms = _int_or_none(trigger.split(".", 1)[0])
        if self.trigger_ttl is not None and issued_ms is not None and issued_ms >= _EPOCH_MS_FLOOR:
            age = time.time() - issued_ms / 1000
            if age > self.trigger_ttl:
                return {"ok": False, "error": "expired_trigger_id"}
        self._used_triggers.add(trigger)
        return None

    def _next_ts(self) -> str:
        self._ts_micros += 100
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

    def _next_view_id(self) -> str:
        self._view_serial += 1
        return f"V{self._view_serial:010d}"

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user id lands in the bot's DM with them; Slack answers with the D… id.
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def _sorted(self, channel: str) -> list[_Message]:
        return sorted(self._messages.get(channel, []), key=lambda m: _ts_key(m.ts))

    def _find(self, channel: str, ts: str | None) -> _Message | None:
        return next((m for m in self._messages.get(channel, []) if m.ts == ts), None)

    def _thread_of(self, channel: str, ts: str) -> list[_Message]:
        parent = self._find(channel, ts)
        if parent is None:
            return []
        return [parent] + [m for m in self._sorted(channel) if m.thread_ts == ts and m.ts != ts]

    def _present(self, message: _Message, *, metadata: bool) -> Json:
        """The message as Slack's API shows it; ``metadata`` as if include_all_metadata were set."""
        shown: Json = {"type": "message", "ts": message.ts, "user": message.user, "text": message.text}
        if message.bot_id:
            shown.update(bot_id=message.bot_id, app_id=APP_ID)
        shown["team"] = TEAM_ID
        if message.blocks is not None:
            shown["blocks"] = copy.deepcopy(message.blocks)
        if message.attachments:
            shown["attachments"] = copy.deepcopy(message.attachments)
        # Slack leaves metadata out entirely unless the caller asks for include_all_metadata.
        if metadata and message.metadata is not None:
            shown["metadata"] = copy.deepcopy(message.metadata)
        if message.thread_ts:
            shown["thread_ts"] = message.thread_ts
        replies = [m for m in self._messages.get(message.channel, []) if m.thread_ts == message.ts and m is not message]
        if replies:
            shown["thread_ts"] = message.ts
            shown["reply_count"] = len(replies)
            shown["latest_reply"] = max((m.ts for m in replies), key=_ts_key)
            shown["reply_users"] = sorted({m.user for m in replies})
        if message.edited_ts:
            shown["edited"] = {"user": message.user, "ts": message.edited_ts}
        return shown

    def _seen(self, message: _Message) -> Json:
        """For tests' asserts: the API shape with every key present, so ``m["metadata"]`` never raises."""
        shown = self._present(message, metadata=True)
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            shown.setdefault(key, None)
        return shown

    def _page(self, messages: list[_Message], params: Json, *, newest_first: bool) -> Json:
        inclusive = _flag(params.get("inclusive"))
        oldest = _ts_key(str(params.get("oldest") or "0"))
        latest = _ts_key(str(params["latest"])) if params.get("latest") else None
        limit = _int_or_none(params.get("limit")) or 100
        include_metadata = _flag(params.get("include_all_metadata"))

        def in_window(m: _Message) -> bool:
            key = _ts_key(m.ts)
            after = key >= oldest if inclusive else key > oldest
            before = latest is None or (key <= latest if inclusive else key < latest)
            return after and before

        chosen = [m for m in messages if in_window(m)]
        if newest_first:
            chosen.reverse()
        cursor = _decode_cursor(params.get("cursor"))
        if cursor is not None:
            chosen = chosen[cursor:]
        else:
            cursor = 0
        page, more = chosen[:limit], len(chosen) > limit
        next_cursor = _encode_cursor(cursor + limit) if more else ""
        return {
            "ok": True,
            "messages": [self._present(m, metadata=include_metadata) for m in page],
            "has_more": more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }


# --- request parsing ---------------------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def _read_params(request: Request) -> tuple[Json, str]:
    """Query string, form and JSON bodies merged, as Slack accepts any of them; raises ValueError on bad JSON."""
    params: Json = {}
    sources: list[str] = []
    if request.query_params:
        params.update(request.query_params.items())
        sources.append("query")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if body and content_type == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("a JSON body must be an object")
        params.update(decoded)
        sources.append("json")
    elif body and content_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
        sources.append("form")
    elif body and content_type == "multipart/form-data":
        form = await request.form()
        for key, item in form.multi_items():
            params[key] = item.filename if isinstance(item, UploadFile) else item
        sources.append("multipart")
    for name in JSON_STRING_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            # Malformed JSON is left as sent: the method then answers invalid_blocks_format and the like, as Slack.
            with contextlib.suppress(ValueError):
                params[name] = json.loads(value)
    return params, "+".join(sources) or "none"


def _response_problem(payload: Json) -> tuple[str | None, list[str]]:
    if _flag(payload.get("delete_original")):
        return None, []
    if not payload.get("text") and not payload.get("blocks") and not payload.get("attachments"):
        return "no_text", []
    if payload.get("blocks") is not None and not isinstance(payload["blocks"], list):
        return "invalid_blocks_format", []
    errors = block_kit.message_errors(payload)
    return ("invalid_blocks", errors) if errors else (None, [])


def _shortened(sent: Any) -> str:
    shown = json.dumps(sent, default=str, sort_keys=True)
    return shown if len(shown) <= 400 else shown[:400] + "…"


def _ok(params: Json) -> Json:
    return {"ok": True}


def _summary(call: SlackCall) -> str:
    flags = " [429]" if call.rate_limited else f" [error={call.error}]" if call.error else ""
    shown = json.dumps(call.params, default=str, sort_keys=True)
    return (shown if len(shown) <= 300 else shown[:300] + "…") + flags


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ts_key(ts: str) -> Decimal:
    # Decimal, not float: "1700000000.000100" has more significant digits than a float keeps exactly.
    try:
        return Decimal(ts)
    except InvalidOperation:
        return Decimal(0)


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"next_offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int | None:
    if not cursor:
        return None
    try:
        return int(base64.b64decode(str(cursor)).decode().removeprefix("next_offset:"))
    except ValueError:
        return None


# --- validation, with Slack's limits and error codes --------------------------------------------------------------


def _message_problem(params: Json) -> Json | None:
    if not params.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
        return {"ok": False, "error": "no_text"}
    return _content_problem(params)


def _content_problem(params: Json) -> Json | None:
    """The text, blocks and metadata of a message, as chat.postMessage, chat.postEphemeral and chat.update check."""
    if params.get("text") is not None and len(str(params["text"])) > block_kit.MESSAGE_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    if params.get("blocks") is not None:
        problem = _blocks_problem(params["blocks"])
        if problem:
            return problem
    return _metadata_problem(params.get("metadata"))


def _metadata_problem(metadata: Any) -> Json | None:
    if metadata is None or metadata == {}:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        return {"ok": False, "error": "invalid_metadata_format"}
    return None


def _blocks_problem(blocks: Any) -> Json | None:
    if not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks_format"}
    errors = block_kit.blocks_errors(blocks)
    if errors:
        return {
            "ok": False,
            "error": "invalid_blocks",
            "errors": errors,
            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
        }
    return None


def _invalid_arguments(errors: list[str]) -> Json:
    return {
        "ok": False,
        "error": "invalid_arguments",
        "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
    }


def _view_problem(view: Any, *, home: bool = False) -> Json | None:
    errors = block_kit.view_errors(view, home=home)
    return _invalid_arguments(errors) if errors else None


def _server_view(submitted: Json, *, view_id: str, root_view_id: str, previous_view_id: str | None) -> Json:
    """The view as Slack answers it: what was sent plus the fields Slack fills in."""
    view: Json = {
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
    }
    view.update(copy.deepcopy(submitted))
    view.update(
        id=view_id,
        team_id=TEAM_ID,
        state={"values": {}},
        hash=f"{int(time.time())}.{secrets.token_hex(4)}",
        root_view_id=root_view_id,
        previous_view_id=previous_view_id,
        app_id=APP_ID,
        app_installed_team_id=TEAM_ID,
        bot_id=BOT_ID,
    )
    return view


_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>
<body><h1>Sign in to Test Team</h1><form action="/signin" method="post"><input type="email" name="email">
<button type="submit">Sign In With Email</button></form></body></html>
"""
