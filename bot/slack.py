"""Slack as the services see it: the Web API client, the people directory and the notifier.

The client retries Slack's 429s after their ``Retry-After``, 5xx answers and dropped connections
(slack_sdk's own retry handlers); what still fails becomes ``DeliveryFailed``, permanent where
trying again cannot help.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages as m
from bot.metrics import CountedRateLimitRetries
from bot.ports import DeliveryFailed, FileUnavailable, NotAMember, SlackFile, SlackUser
from slack_ui.connections import auth_links_message
from slack_ui.messages import announcement

log = logging.getLogger(__name__)

METADATA_EVENT = "sync2books_announcement"
# Errors after which posting to that channel again cannot succeed.
PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "is_archived", "msg_too_long", "invalid_blocks", "restricted_action"}
)
# The bot is not a member: nothing is lost, it is posted once someone invites the bot.
NOT_A_MEMBER = "not_in_channel"
# How far back a re-sender looks for a message it may already have posted.
HISTORY_LOOKBACK = 200


def web_client(token: str, base_url: str) -> AsyncWebClient:
    client = AsyncWebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.extend(
        [
            CountedRateLimitRetries(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=3),
        ]
    )
    return client


def _error_code(exc: SlackClientError) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__


def _delivery_failed(exc: SlackClientError) -> DeliveryFailed:
    code = _error_code(exc)
    if code == NOT_A_MEMBER:
        return NotAMember(code)
    return DeliveryFailed(code, permanent=code in PERMANENT_ERRORS)


class SlackDirectory:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def user(self, user_id: str) -> SlackUser:
        answer = await self._client.users_info(user=user_id)
        user = answer["user"]
        return SlackUser(
            id=user_id,
            name=user.get("real_name") or user.get("name") or user_id,
            is_admin=bool(user.get("is_admin")),
            is_owner=bool(user.get("is_owner") or user.get("is_primary_owner")),
        )

    async def bot_is_member(self, channel_id: str) -> bool:
        try:
            answer = await self._client.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            code = _error_code(exc)
            if code in ("channel_not_found", NOT_A_MEMBER):
                return False
            raise
        channel = answer.get("channel") or {}
        return bool(channel.get("is_member") or channel.get("is_im"))

    async def channels_of(self, user_id: str) -> list[str]:
        channels: list[str] = []
        cursor: str | None = None
        while True:
            answer = await self._client.users_conversations(
                user=user_id, types="public_channel,private_channel,im", limit=200, cursor=cursor, exclude_archived=True
            )
            found: list[dict[str, Any]] = answer.get("channels", [])
            channels += [channel["id"] for channel in found]
            cursor = (answer.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return channels


class SlackNotifier:
    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def deliver(self, channel_id: str, message: m.Message, key: str) -> str:
        text, message_blocks = announcement(message)
        reply_to = message.thread()
        thread: dict[str, Any] = {"thread_ts": reply_to} if reply_to else {}
        try:
            answer = await self._client.chat_postMessage(
                channel=channel_id,
                text=text,
                blocks=message_blocks,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                unfurl_links=False,
                **thread,
            )
        except SlackClientError as exc:
            raise _delivery_failed(exc) from None
        if isinstance(message, m.LinkNews) and message.link_message_ts and message.link_message is not None:
            await self._edit_link_message(channel_id, message.link_message_ts, message.link_message)
        return str(answer["ts"])

    async def _edit_link_message(self, channel_id: str, ts: str, link_message: m.AuthLinks) -> None:
        """The used or expired link loses its button; a failure here costs only a stale button."""
        text, message_blocks = auth_links_message(link_message)
        try:
            await self._client.chat_update(channel=channel_id, ts=ts, text=text, blocks=message_blocks)
        except SlackClientError as exc:
            log.warning("could not update the link message in %s: %s", channel_id, _error_code(exc))

    async def find_delivered(self, channel_id: str, key: str) -> str | None:
        try:
            answer = await self._client.conversations_history(
                channel=channel_id, include_all_metadata=True, limit=HISTORY_LOOKBACK
            )
        except SlackClientError as exc:
            raise _delivery_failed(exc) from None
        messages: list[dict[str, Any]] = answer.get("messages", [])
        for message in messages:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == METADATA_EVENT and (metadata.get("event_payload") or {}).get("key") == key:
                return str(message["ts"])
        return None

    async def update(self, channel_id: str, ts: str, message: m.Message) -> None:
        text, message_blocks = announcement(message)
        try:
            await self._client.chat_update(channel=channel_id, ts=ts, text=text, blocks=message_blocks)
        except SlackClientError as exc:
            log.warning("could not update a %s message in %s: %s", message.KIND, channel_id, _error_code(exc))


# Slack serves shared files from here; the bot token is sent nowhere else (but the configured Web API's
# origin, which is Slack's own or, in tests, a fake of it).
SLACK_FILE_ORIGINS = frozenset({("https", "files.slack.com", 443)})
MAX_REDIRECTS = 3
MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024


class SlackFiles:
    """files.info and the download behind it. Without the token Slack answers a sign-in page with 200,
    which must never be taken for a receipt.

    ``files.info`` names the download address; it is outside text like any other. The token goes only to
    Slack's file host (and the configured API host), every redirect is followed by hand and is refused
    when it leaves those hosts, and the body is read only up to the receipt limit.
    """

    def __init__(self, client: AsyncWebClient, token: str, api_url: str = "https://slack.com/api/") -> None:
        self._client = client
        self._token = token
        self._origins = SLACK_FILE_ORIGINS | {_origin(httpx.URL(api_url))}

    async def info(self, file_id: str) -> SlackFile:
        try:
            answer = await self._client.files_info(file=file_id)
        except SlackClientError as exc:
            code = _error_code(exc)
            raise FileUnavailable(
                f"Slack could not describe the file ({code})", permanent=code == "file_not_found"
            ) from None
        file = answer["file"]
        return SlackFile(
            id=file_id,
            name=str(file.get("name") or file.get("title") or "receipt"),
            mimetype=str(file.get("mimetype") or "application/octet-stream").split(";")[0].lower(),
            size=int(file.get("size") or 0),
            download_url=str(file.get("url_private_download") or file.get("url_private") or ""),
        )

    def _is_slack(self, url: httpx.URL) -> bool:
        return _origin(url) in self._origins

    async def download(self, file: SlackFile) -> bytes:
        if not file.download_url:
            raise FileUnavailable("Slack gave no download address for the file", permanent=True)
        try:
            url = httpx.URL(file.download_url)
        except httpx.InvalidURL:
            raise FileUnavailable("Slack gave a download address that is not one", permanent=True) from None
        try:
            async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
                for _ in range(MAX_REDIRECTS + 1):
                    if not self._is_slack(url):
                        log.warning("refused to download file %s from %s: not Slack's file host", file.id, url.host)
                        raise FileUnavailable("the file's address is not on Slack's file host", permanent=True)
                    request = http.build_request("GET", url, headers={"Authorization": f"Bearer {self._token}"})
                    response = await http.send(request, stream=True)
                    try:
                        if not response.is_redirect:
                            return await self._read(response)
                        url = url.join(response.headers.get("location", ""))
                    finally:
                        await response.aclose()
        except httpx.HTTPError as exc:
            raise FileUnavailable(f"the download from Slack failed ({type(exc).__name__})", permanent=False) from None
        raise FileUnavailable("Slack redirected the download too many times", permanent=True)

    async def _read(self, response: httpx.Response) -> bytes:
        if response.status_code >= 500 or response.status_code == 429:
            raise FileUnavailable(f"Slack answered {response.status_code} to the download", permanent=False)
        declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise FileUnavailable("the file is larger than 10 MB", permanent=True)
            chunks.append(chunk)
        content = b"".join(chunks)
        if response.status_code != 200 or declared == "text/html" or _looks_like_html(content):
            # Retrying will not help: the token is refused for downloads (is the files:read scope missing?).
            raise FileUnavailable(
                "Slack sent a sign-in page instead of the file (the app may lack the files:read scope)", permanent=True
            )
        return content


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port, the port spelled out: another port on the same host is another server."""
    default = {"https": 443, "http": 80}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _looks_like_html(content: bytes) -> bool:
    head = content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))
