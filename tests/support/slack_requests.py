"""Requests built as Slack builds them, signed with the app's signing secret, and sent to the bot's HTTP endpoint.

Interactivity arrives form-encoded (``payload=<json>``), slash commands form-encoded, events as JSON, each signed
with Slack's v0 scheme — so the bot's signature check is exercised, not bypassed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

import httpx

from tests.support import block_kit
from tests.support.fake_slack import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, FakeSlack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Nothing listens on the discard port, so a bot that answers on an unobserved response_url fails fast and
# locally; pass ``fake.response_url(key)`` (or give SlackSender the fake) to see what it answered.
UNOBSERVED_RESPONSE_URL = "http://127.0.0.1:9/response/unobserved"
# Deprecated by Slack but still sent with every request.
VERIFICATION_TOKEN = "fAkEvErIfIcAtIoNtOkEn123"
# Slack refuses requests older than 5 minutes; "stale" goes well past that.
STALE_SECONDS = 600
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

Signature = Literal["valid", "bad", "stale"]
Body = tuple[bytes, str]


def sign(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the signing secret."""
    stamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{stamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


def new_trigger_id() -> str:
    """A trigger_id shaped like Slack's; it starts with its issue time in ms, which FakeSlack uses to expire it."""
    return f"{int(time.time() * 1000)}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def _team(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def _channel_name(channel_id: str) -> str:
    return "directmessage" if channel_id.startswith("D") else f"channel-{channel_id.lower()}"


def slash_command(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    command: str = "/sync2books",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str = UNOBSERVED_RESPONSE_URL,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> Body:
    """A slash command's form body, fields in the order Slack sends them."""
    fields = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", team_id),
        ("team_domain", TEAM_DOMAIN),
        ("channel_id", channel_id),
        ("channel_name", channel_name or _channel_name(channel_id)),
        ("user_id", user_id),
        ("user_name", user_name or user_id.lower()),
        ("command", command),
        ("text", text),
        ("api_app_id", APP_ID),
        ("is_enterprise_install", "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    return urlencode(fields).encode(), FORM


def interaction(payload: Mapping[str, Any]) -> Body:
    """Any interactivity payload, form-encoded as ``payload=<json>`` the way Slack posts it."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode(), FORM


def _find_element(blocks: Any, action_id: str) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """(block, element) of the interactive element with ``action_id`` — what the user clicked."""
    for block in blocks or []:
        if not isinstance(block, Mapping):
            continue
        candidates = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                return block, element
    return None


def block_actions(
    *,
    user_id: str,
    action_id: str,
    value: str | None = None,
    channel_id: str | None = None,
    message_ts: str | None = None,
    trigger_id: str | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str = UNOBSERVED_RESPONSE_URL,
    message: Mapping[str, Any] | None = None,
    block_id: str | None = None,
    action: Mapping[str, Any] | None = None,
    team_id: str = TEAM_ID,
) -> Body:
    """A click on an interactive element in a message (``message``/``message_ts``) or a view (``view``).

    Given the message or view as the fake holds it, the action's block_id, type, text and value come from the
    element with ``action_id``, as Slack's would; ``action`` adds or overrides fields (e.g. ``selected_option``).
    """
    if message is not None and message_ts is None:
        message_ts = str(message["ts"])
    found = _find_element((view or message or {}).get("blocks"), action_id)
    clicked: dict[str, Any] = {"action_id": action_id, "block_id": block_id or secrets.token_hex(3), "type": "button"}
    if found is not None:
        block, element = found
        clicked["block_id"] = block_id or block.get("block_id") or clicked["block_id"]
        clicked["type"] = element.get("type", "button")
        for key in ("text", "value", "style", "url"):
            if key in element:
                clicked[key] = element[key]
    if value is not None:
        clicked["value"] = value
    clicked["action_ts"] = _action_ts()
    clicked.update(action or {})

    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = dict(view)
        payload["state"] = {"values": (view.get("state") or {}).get("values", {})}
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["state"] = {"values": {}}
        # Only clicks in messages carry a response_url; clicks in modals and App Home don't.
        payload["response_url"] = response_url
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": _channel_name(channel_id)}
    if message is not None:
        payload["message"] = dict(message)
    elif message_ts is not None:
        payload["message"] = {
            "type": "message",
            "ts": message_ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": "",
            "blocks": [],
        }
    payload["actions"] = [clicked]
    return interaction(payload)


def state_values(values: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Slack's ``view.state.values`` from ``{block_id: {action_id: value}}``.

    A str value becomes a plain_text_input's; a mapping (e.g. ``{"type": "static_select", "selected_option": …}``)
    is taken as the element's state as Slack would send it.
    """
    return {
        block_id: {
            action_id: dict(value) if isinstance(value, Mapping) else {"type": "plain_text_input", "value": value}
            for action_id, value in actions.items()
        }
        for block_id, actions in values.items()
    }


def view_submission(
    *,
    user_id: str,
    callback_id: str,
    values: Mapping[str, Mapping[str, Any]],
    private_metadata: str = "",
    view_id: str | None = None,
    view_hash: str | None = None,
    view: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    team_id: str = TEAM_ID,
) -> Body:
    """The user pressing Submit; ``values`` as in ``state_values``. ``view`` is the modal as opened, if known."""
    base = dict(view or {})
    view_id = view_id or base.get("id") or f"V{secrets.randbelow(10**10):010d}"
    submitted: dict[str, Any] = {
        "type": "modal",
        "blocks": [],
        "title": {"type": "plain_text", "text": "Sync2Books"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "clear_on_close": False,
        "notify_on_close": False,
        "external_id": "",
        "previous_view_id": None,
        "root_view_id": view_id,
        **base,
        "id": view_id,
        "team_id": team_id,
        "callback_id": callback_id,
        "private_metadata": private_metadata or base.get("private_metadata", ""),
        "state": {"values": state_values(values)},
        "hash": view_hash or base.get("hash") or f"{int(time.time())}.{secrets.token_hex(4)}",
        "app_id": APP_ID,
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    payload = {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return interaction(payload)


def block_suggestion(
    *,
    user_id: str,
    action_id: str,
    value: str,
    view: Mapping[str, Any] | None = None,
    block_id: str | None = None,
    team_id: str = TEAM_ID,
) -> Body:
    """An external_select asking for options as the user types ``value``."""
    found = _find_element((view or {}).get("blocks"), action_id)
    if block_id is None:
        block_id = str(found[0].get("block_id")) if found and found[0].get("block_id") else secrets.token_hex(3)
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": _user(user_id, team_id),
        "container": {"type": "view", "view_id": (view or {}).get("id")},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        payload["view"] = dict(view)
    return interaction(payload)


def event_callback(event: Mapping[str, Any], *, event_id: str | None = None, team_id: str = TEAM_ID) -> Body:
    """An Events API delivery, JSON as Slack posts it."""
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_urlsafe(24)}",
    }
    return json.dumps(envelope, separators=(",", ":")).encode(), JSON


def url_verification(challenge: str) -> Body:
    """The handshake Slack sends when the Request URL is saved."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return json.dumps(body).encode(), JSON


@dataclass(frozen=True)
class SentRequest:
    response: httpx.Response
    elapsed: float  # seconds from sending to the full answer, by the test's clock (Slack gives up at 3 s)
    body: bytes
    response_key: str | None = None  # the fake's response_url key the request carried, when the sender made one

    @property
    def status_code(self) -> int:
        return self.response.status_code


def _submitted_view(body: bytes) -> dict[str, Any] | None:
    """The view a view_submission carried, if the body is one."""
    try:
        form = parse_qs(body.decode(), keep_blank_values=True)
        payload = json.loads(form["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or payload.get("type") != "view_submission":
        return None
    view = payload.get("view")
    return view if isinstance(view, dict) else None


def check_ack(fake: FakeSlack, response: httpx.Response, submitted: dict[str, Any] | None = None) -> None:
    """An ack that carries a view or options is Block Kit Slack checks as it checks the Web API's: one it would
    refuse (the modal shows an error, the menu stays empty) is recorded with the fake, failing the test. So is a
    ``response_action: errors`` naming a block the submitted view has no input for: Slack then shows the person
    only "We had some trouble connecting" and none of the bot's words."""
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
        return
    try:
        answer = response.json()
    except ValueError:
        return
    if not isinstance(answer, dict):
        return
    errors: list[str] = []
    if answer.get("response_action") in ("update", "push"):
        errors = block_kit.view_errors(answer.get("view"))
    elif "options" in answer:
        errors = block_kit.options_errors(answer["options"])
    elif "option_groups" in answer:
        errors = block_kit.option_groups_errors(answer["option_groups"])
    elif answer.get("response_action") == "errors" and submitted and submitted.get("blocks"):
        # Only a view the test took from the fake (a made-up one has no blocks) says which inputs Slack showed.
        inputs = {
            block.get("block_id")
            for block in submitted.get("blocks") or []
            if isinstance(block, dict) and block.get("type") == "input"
        }
        named = answer.get("errors")
        if not isinstance(named, dict) or not named:
            errors = ["must provide at least one error [json-pointer:/errors]"]
        else:
            errors = [
                f"no input block with block_id {key!r} [json-pointer:/errors]" for key in named if key not in inputs
            ]
    if errors:
        fake.record_refusal("ack", "invalid_ack", errors, answer)


class SlackSender:
    """Posts signed requests to the bot's endpoint the way Slack does.

    Given ``fake``, commands and actions carry a fresh ``fake.response_url(key)`` unless one is passed, and
    ``SentRequest.response_key`` says which key to look under. Use as ``async with`` to reuse one connection pool.
    """

    def __init__(
        self, events_url: str, signing_secret: str, *, fake: FakeSlack | None = None, timeout: float = 10.0
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.fake = fake
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> SlackSender:
        self._client = httpx.AsyncClient(timeout=self.timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        body: bytes,
        content_type: str,
        *,
        signature: Signature = "valid",
        retry_num: int | None = None,
        headers: Mapping[str, str] | None = None,
        response_key: str | None = None,
    ) -> SentRequest:
        if signature == "valid":
            signed = sign(self.signing_secret, body)
        elif signature == "bad":
            signed = sign(self.signing_secret + "-but-not-quite", body)
        elif signature == "stale":
            signed = sign(self.signing_secret, body, int(time.time()) - STALE_SECONDS)
        else:
            raise ValueError(f"unknown signature kind: {signature!r}")
        sent_headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **signed}
        if retry_num is not None:
            sent_headers["X-Slack-Retry-Num"] = str(retry_num)
            sent_headers["X-Slack-Retry-Reason"] = "http_timeout"
        sent_headers.update(headers or {})

        client = self._client or httpx.AsyncClient(timeout=self.timeout)
        try:
            started = time.perf_counter()
            response = await client.post(self.events_url, content=body, headers=sent_headers)
            elapsed = time.perf_counter() - started
        finally:
            if client is not self._client:
                await client.aclose()
        if self.fake is not None:
            check_ack(self.fake, response, _submitted_view(body))
        return SentRequest(response, elapsed, body, response_key)

    def _response_url(self, given: Any) -> tuple[str, str | None]:
        if given is not None:
            return str(given), None
        if self.fake is None:
            return UNOBSERVED_RESPONSE_URL, None
        key = secrets.token_hex(6)
        return self.fake.response_url(key), key

    async def command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        signature: Signature = "valid",
        retry_num: int | None = None,
        **kw: Any,
    ) -> SentRequest:
        url, key = self._response_url(kw.pop("response_url", None))
        body, content_type = slash_command(text, user_id=user_id, channel_id=channel_id, response_url=url, **kw)
        return await self.send(body, content_type, signature=signature, retry_num=retry_num, response_key=key)

    async def action(
        self,
        *,
        user_id: str,
        action_id: str,
        signature: Signature = "valid",
        retry_num: int | None = None,
        **kw: Any,
    ) -> SentRequest:
        url, key = self._response_url(kw.pop("response_url", None))
        if kw.get("view") is not None:
            key = None  # clicks in views carry no response_url
        body, content_type = block_actions(user_id=user_id, action_id=action_id, response_url=url, **kw)
        return await self.send(body, content_type, signature=signature, retry_num=retry_num, response_key=key)

    async def submit_view(
        self,
        *,
        user_id: str,
        callback_id: str,
        values: Mapping[str, Mapping[str, Any]],
        signature: Signature = "valid",
        retry_num: int | None = None,
        **kw: Any,
    ) -> SentRequest:
        body, content_type = view_submission(user_id=user_id, callback_id=callback_id, values=values, **kw)
        return await self.send(body, content_type, signature=signature, retry_num=retry_num)

    async def event(
        self,
        event: Mapping[str, Any],
        *,
        signature: Signature = "valid",
        retry_num: int | None = None,
        **kw: Any,
    ) -> SentRequest:
        body, content_type = event_callback(event, **kw)
        return await self.send(body, content_type, signature=signature, retry_num=retry_num)

    async def suggestion(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str,
        signature: Signature = "valid",
        retry_num: int | None = None,
        **kw: Any,
    ) -> SentRequest:
        body, content_type = block_suggestion(user_id=user_id, action_id=action_id, value=value, **kw)
        return await self.send(body, content_type, signature=signature, retry_num=retry_num)
