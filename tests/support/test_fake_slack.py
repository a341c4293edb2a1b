"""The fakes must behave like Slack, or tests built on them prove nothing: checked with slack_sdk and slack_bolt."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond, AsyncSay
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync2books.sandbox.server import bind_socket, url_of
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, SlackCall, text_of
from tests.support.slack_requests import (
    SlackSender,
    block_actions,
    check_ack,
    event_callback,
    interaction,
    new_trigger_id,
    sign,
    slash_command,
    view_submission,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Expense submitted"}},
    {
        "type": "section",
        "block_id": "summary",
        "text": {"type": "mrkdwn", "text": "*£12.50* at Pret"},
        "fields": [{"type": "mrkdwn", "text": "Company: Acme"}],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Batch 42"}]},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "e1",
            },
            {
                "type": "button",
                "action_id": "open",
                "text": {"type": "plain_text", "text": "Open"},
                "url": "https://x.test/e1",
            },
        ],
    },
]
METADATA = {"event_type": "expense_submitted", "event_payload": {"expense_id": "e1"}}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)


# --- the Web API through slack_sdk --------------------------------------------------------------------------------


async def test_auth_test_answers_as_the_bot(client: AsyncWebClient, fake: FakeSlack) -> None:
    answer = await client.auth_test()
    assert answer["ok"] and answer["user_id"] == "UBOT" and answer["team_id"] == "T0001" and answer["bot_id"] == "B0001"
    assert [c.method for c in fake.calls] == ["auth.test"]


async def test_a_wrong_or_missing_token_is_refused(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    assert refused.value.response["error"] == "invalid_auth"

    async with httpx.AsyncClient() as http:
        anonymous = await http.post(f"{fake.api_url}auth.test")
    assert anonymous.status_code == 200 and anonymous.json() == {"ok": False, "error": "not_authed"}
    assert [c.error for c in fake.calls] == ["invalid_auth", "not_authed"]


async def test_the_token_is_never_recorded(fake: FakeSlack) -> None:
    async with httpx.AsyncClient() as http:
        await http.post(f"{fake.api_url}chat.postMessage", data={"token": BOT_TOKEN, "channel": "C1", "text": "hi"})
    assert BOT_TOKEN not in repr(fake.calls)


async def test_post_update_and_history_show_what_the_user_sees(client: AsyncWebClient, fake: FakeSlack) -> None:
    posted = await client.chat_postMessage(channel="C1", text="Expense submitted", blocks=BLOCKS, metadata=METADATA)
    assert posted["ok"] and posted["channel"] == "C1" and posted["message"]["blocks"] == BLOCKS
    second = await client.chat_postMessage(channel="C1", text="another")
    assert float(second["ts"]) > float(posted["ts"])

    updated_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by <@U1>"}}]
    await client.chat_update(channel="C1", ts=posted["ts"], text="Approved", blocks=updated_blocks)

    history = await client.conversations_history(channel="C1", include_all_metadata=True)
    newest, oldest = history["messages"]
    assert newest["text"] == "another" and "metadata" not in newest
    assert oldest["ts"] == posted["ts"] and oldest["blocks"] == updated_blocks
    assert oldest["metadata"] == METADATA, "chat.update without metadata keeps it"
    plain = await client.conversations_history(channel="C1")
    assert all("metadata" not in m for m in plain["messages"])
    limited = await client.conversations_history(channel="C1", oldest=posted["ts"], limit=5)
    assert [m["text"] for m in limited["messages"]] == ["another"]

    shown = fake.messages("C1")
    assert [m["text"] for m in shown] == ["Approved", "another"]
    assert "Approved by <@U1>" in text_of(shown[0])

    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"


async def test_text_of_flattens_what_is_visible(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="fallback", blocks=BLOCKS, metadata=METADATA)
    seen = text_of(posted["message"])
    for visible in ("fallback", "Expense submitted", "*£12.50* at Pret", "Company: Acme", "Batch 42", "Approve"):
        assert visible in seen
    assert "https://x.test/e1" in seen
    # Metadata and button values are for the app, not the user.
    assert "expense_submitted" not in seen and "e1" not in seen.splitlines()


async def test_threads_ephemerals_and_delete(client: AsyncWebClient, fake: FakeSlack) -> None:
    parent = await client.chat_postMessage(channel="C1", text="parent")
    await client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    fake.add_message("C1", "a human reply", user="U1", thread_ts=parent["ts"])

    history = await client.conversations_history(channel="C1")
    assert [m["text"] for m in history["messages"]] == ["parent"], "replies live in the thread only"
    assert history["messages"][0]["reply_count"] == 2
    replies = await client.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply", "a human reply"]
    assert [m["text"] for m in fake.thread("C1", parent["ts"])] == ["parent", "reply", "a human reply"]

    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert ephemeral["message_ts"]
    assert [e["text"] for e in fake.ephemerals("C1", user="U1")] == ["only you"]
    assert fake.ephemerals("C1", user="U2") == []

    await client.chat_delete(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in fake.messages("C1")] == ["reply", "a human reply"]


async def test_a_message_to_a_user_id_lands_in_their_dm(client: AsyncWebClient, fake: FakeSlack) -> None:
    posted = await client.chat_postMessage(channel="U1", text="psst")
    assert posted["channel"] == fake.dm_channel("U1") == "D1"
    assert [m["text"] for m in fake.messages("U1")] == [m["text"] for m in fake.messages("D1")] == ["psst"]


async def test_block_limits_are_enforced_like_slack(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.expect_refusals("invalid_blocks", "no_text")
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as invalid:
        await client.chat_postMessage(channel="C1", text="t", blocks=too_long)
    assert invalid.value.response["error"] == "invalid_blocks"
    # slack_sdk warns before sending; Slack itself refuses.
    with pytest.raises(SlackApiError) as empty, pytest.warns(UserWarning, match="`text` argument is missing"):
        await client.chat_postMessage(channel="C1", text="")
    assert empty.value.response["error"] == "no_text"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(text: str, **more: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": "b", "text": {"type": "plain_text", "text": text}, **more}


def _modal_with(element: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Pick"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [
            {"type": "input", "block_id": "i", "label": {"type": "plain_text", "text": "L"}, "element": element}
        ],
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


REFUSED_BLOCKS = {
    "51 blocks in a message": [_section(str(n)) for n in range(51)],
    "a section's text of 3,001 characters": [_section("x" * 3001)],
    "an empty section text": [_section("")],
    "a button's text of 76 characters": [{"type": "actions", "elements": [_button("x" * 76)]}],
    "a button's text in mrkdwn": [
        {"type": "actions", "elements": [{**_button("Go"), "text": {"type": "mrkdwn", "text": "*Go*"}}]}
    ],
    "a button's value of 2,001 characters": [{"type": "actions", "elements": [_button("Go", value="v" * 2001)]}],
    "a header of 151 characters": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "a context of 11 elements": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
    "a text given as a bare string": [{"type": "section", "text": "plain words"}],
    "an unknown block type": [{"type": "sparkles", "text": {"type": "mrkdwn", "text": "x"}}],
    "two blocks with one block_id": [{**_section("a"), "block_id": "same"}, {**_section("b"), "block_id": "same"}],
    "two buttons with one action_id": [{"type": "actions", "elements": [_button("A"), _button("B")]}],
}


@pytest.mark.parametrize("blocks", REFUSED_BLOCKS.values(), ids=REFUSED_BLOCKS.keys())
async def test_blocks_slack_refuses_are_refused(client: AsyncWebClient, fake: FakeSlack, blocks: Any) -> None:
    fake.expect_refusals("invalid_blocks")
    for method in (client.chat_postMessage, client.chat_postEphemeral):
        with pytest.raises(SlackApiError) as refused:
            await method(channel="C1", user="U1", text="fallback", blocks=blocks)
        assert refused.value.response["error"] == "invalid_blocks"
        assert refused.value.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    posted = await client.chat_postMessage(channel="C1", text="fine", blocks=[_section("fine")])
    with pytest.raises(SlackApiError) as not_updated:
        await client.chat_update(channel="C1", ts=posted["ts"], text="x", blocks=blocks)
    assert not_updated.value.response["error"] == "invalid_blocks"
    assert [m["text"] for m in fake.messages("C1")] == ["fine"]
    assert [r.error for r in fake.refusals] == ["invalid_blocks"] * 3


REFUSED_VIEWS = {
    "101 options in a menu": _modal_with(
        {"type": "static_select", "action_id": "s", "options": [_option(str(n), str(n)) for n in range(101)]}
    ),
    "an option's text of 76 characters": _modal_with(
        {"type": "static_select", "action_id": "s", "options": [_option("o" * 76, "v")]}
    ),
    "an option's value of 151 characters": _modal_with(
        {"type": "static_select", "action_id": "s", "options": [_option("o", "v" * 151)]}
    ),
    "11 checkboxes": _modal_with(
        {"type": "checkboxes", "action_id": "c", "options": [_option(str(n), str(n)) for n in range(11)]}
    ),
    "a title of 25 characters": {
        **_modal_with({"type": "plain_text_input"}),
        "title": {"type": "plain_text", "text": "t" * 25},
    },
    "private_metadata of 3,001 characters": {
        **_modal_with({"type": "plain_text_input"}),
        "private_metadata": "m" * 3001,
    },
    "101 blocks": {**_modal_with({"type": "plain_text_input"}), "blocks": [_section(str(n)) for n in range(101)]},
    "inputs without a submit button": {
        key: value for key, value in _modal_with({"type": "plain_text_input"}).items() if key != "submit"
    },
}


@pytest.mark.parametrize("view", REFUSED_VIEWS.values(), ids=REFUSED_VIEWS.keys())
async def test_views_slack_refuses_are_refused(client: AsyncWebClient, fake: FakeSlack, view: Any) -> None:
    fake.expect_refusals("invalid_arguments")
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=new_trigger_id(), view=view)
    assert refused.value.response["error"] == "invalid_arguments"
    assert fake.views() == []
    home = {"type": "home", "blocks": view["blocks"]}
    if len(view["blocks"]) > 1:  # the limits of a modal's blocks are a Home tab's too
        with pytest.raises(SlackApiError):
            await client.views_publish(user_id="U1", view=home)
        assert fake.home("U1") is None


async def test_a_refusal_the_test_did_not_expect_fails_it() -> None:
    fake = FakeSlack().__enter__()
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url)
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C1", text="t", blocks=[_section("x" * 3001)])
    # Leaving the fake's ``with`` with no exception of the test's own is where the test fails.
    with pytest.raises(AssertionError, match=r"(?s)refused 1 payload.*chat\.postMessage: invalid_blocks.*3001"):
        fake.__exit__(None, None, None)
    # An injected failure is the test's own doing, not a refusal.
    with FakeSlack() as injected:
        injected.fail("chat.postMessage", "invalid_blocks")
        with pytest.raises(SlackApiError):
            await AsyncWebClient(token=BOT_TOKEN, base_url=injected.api_url).chat_postMessage(channel="C1", text="t")
    assert injected.refusals == []


async def test_response_urls_refuse_what_slack_refuses(fake: FakeSlack) -> None:
    fake.expect_refusals("invalid_blocks", "no_text")
    async with httpx.AsyncClient() as http:
        too_many = await http.post(fake.response_url("k"), json={"text": "t", "blocks": [_section("b")] * 51})
        empty = await http.post(fake.response_url("k"), json={"response_type": "ephemeral"})
        deleted = await http.post(fake.response_url("k"), json={"delete_original": True})
    assert (too_many.status_code, too_many.text) == (400, "invalid_blocks")
    assert (empty.status_code, empty.text) == (400, "no_text")
    assert deleted.status_code == 200
    assert fake.responses("k") == [{"delete_original": True}]
    assert [r.error for r in fake.refusals] == ["invalid_blocks", "no_text"]


async def test_a_response_url_takes_five_posts(fake: FakeSlack) -> None:
    fake.expect_refusals("used_url")
    async with httpx.AsyncClient() as http:
        answers = [(await http.post(fake.response_url("k5"), json={"text": str(n)})).status_code for n in range(6)]
    assert answers == [200] * 5 + [404]
    assert len(fake.responses("k5")) == 5
    assert [r.error for r in fake.refusals] == ["used_url"]


async def test_an_ack_with_a_view_or_options_slack_refuses_is_a_refusal(fake: FakeSlack) -> None:
    fake.expect_refusals("invalid_ack")
    bad_view = {"response_action": "update", "view": REFUSED_VIEWS["101 blocks"]}
    bad_options = {"options": [_option("o", "v" * 151)]}
    good_options = {"options": [_option("o", "v")]}
    for body in (bad_view, bad_options, good_options):
        check_ack(fake, httpx.Response(200, json=body))
    assert [r.where for r in fake.refusals] == ["ack", "ack"]
    assert "151" in fake.refusals[1].messages[0] or "150" in fake.refusals[1].messages[0]

    # Errors must name input blocks of the view submitted, or Slack shows none of them.
    modal = _modal_with({"type": "plain_text_input", "action_id": "value"})
    check_ack(fake, httpx.Response(200, json={"response_action": "errors", "errors": {"i": "Too long"}}), modal)
    check_ack(fake, httpx.Response(200, json={"response_action": "errors", "errors": {"nope": "Hidden"}}), modal)
    assert len(fake.refusals) == 3
    assert fake.refusals[2].messages == ("no input block with block_id 'nope' [json-pointer:/errors]",)


async def test_form_encoded_json_fields_are_parsed(client: AsyncWebClient, fake: FakeSlack) -> None:
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "form", "blocks": json.dumps(BLOCKS), "metadata": json.dumps(METADATA)},
    )
    (call,) = fake.calls_to("chat.postMessage")
    assert call.encoding == "form" and call.params["blocks"] == BLOCKS and call.params["metadata"] == METADATA
    assert fake.messages("C1")[0]["metadata"] == METADATA


async def test_how_slack_sdk_encodes_each_method(client: AsyncWebClient, fake: FakeSlack) -> None:
    await client.chat_postMessage(channel="C1", text="a")
    ts = fake.messages("C1")[0]["ts"]
    await client.chat_delete(channel="C1", ts=ts)
    await client.users_info(user="UBOT")
    await client.auth_test()
    encodings = {c.method: c.encoding for c in fake.calls}
    assert encodings == {"chat.postMessage": "json", "chat.delete": "query", "users.info": "query", "auth.test": "none"}


async def test_users_and_conversations(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.add_user("U1", name="ada", is_admin=True, tz="Europe/London")
    answer = await client.users_info(user="U1")
    user = answer["user"]
    assert user["id"] == "U1" and user["name"] == "ada" and user["is_admin"] is True and user["is_owner"] is False
    assert user["tz"] == "Europe/London" and "is_primary_owner" in user and "real_name" in user
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U404")
    assert unknown.value.response["error"] == "user_not_found"

    fake.add_membership("U1", "C1")
    fake.add_membership("U1", "C2")
    listed = await client.users_conversations(user="U1")
    assert [c["id"] for c in listed["channels"]] == ["C1", "C2"] and listed["response_metadata"]["next_cursor"] == ""

    assert (await client.conversations_info(channel="D1"))["channel"]["is_im"] is True
    assert (await client.conversations_info(channel="C1"))["channel"]["is_im"] is False


async def test_files_download_only_with_the_bot_token(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.add_file("F1", name="receipt.pdf", mimetype="application/pdf", content=b"%PDF-1.4 receipt", filetype="pdf")
    info = await client.files_info(file="F1")
    url = info["file"]["url_private_download"]
    assert info["file"]["size"] == len(b"%PDF-1.4 receipt") and info["file"]["name"] == "receipt.pdf"

    async with httpx.AsyncClient() as http:
        with_token = await http.get(url, headers={"Authorization": f"Bearer {BOT_TOKEN}"})
        without = await http.get(url)
    assert with_token.status_code == 200 and with_token.content == b"%PDF-1.4 receipt"
    assert with_token.headers["content-type"] == "application/pdf"
    # Slack's trap: no error status, just its sign-in page where the file should be.
    assert without.status_code == 200 and without.headers["content-type"].startswith("text/html")
    assert b"%PDF" not in without.content

    with pytest.raises(SlackApiError) as missing:
        await client.files_info(file="F404")
    assert missing.value.response["error"] == "file_not_found"


async def test_views_open_update_and_home(client: AsyncWebClient, fake: FakeSlack) -> None:
    modal = {
        "type": "modal",
        "callback_id": "expense",
        "title": {"type": "plain_text", "text": "New expense"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "blocks": [
            {
                "type": "input",
                "block_id": "amount",
                "label": {"type": "plain_text", "text": "Amount"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
        "private_metadata": "company=c1",
    }
    trigger = new_trigger_id()
    fake.expect_refusals("invalid_arguments")
    opened = (await client.views_open(trigger_id=trigger, view=modal))["view"]
    assert opened["id"].startswith("V") and opened["hash"] and opened["callback_id"] == "expense"
    assert opened["private_metadata"] == "company=c1" and opened["state"] == {"values": {}}

    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id=trigger, view=modal)
    assert reused.value.response["error"] == "trigger_exchanged"
    stale_trigger = f"{int((time.time() - 10) * 1000)}.1.abc"
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=stale_trigger, view=modal)
    assert expired.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as long_title:
        await client.views_open(
            trigger_id=new_trigger_id(), view={**modal, "title": {"type": "plain_text", "text": "x" * 25}}
        )
    assert long_title.value.response["error"] == "invalid_arguments"

    thanks = [{"type": "section", "text": {"type": "mrkdwn", "text": "Thanks"}}]
    updated = await client.views_update(view_id=opened["id"], hash=opened["hash"], view={**modal, "blocks": thanks})
    assert updated["view"]["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as conflict:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal)
    assert conflict.value.response["error"] == "hash_conflict"
    assert fake.view(opened["id"])["blocks"] == thanks  # type: ignore[index]

    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Welcome"}}]}
    await client.views_publish(user_id="U1", view=home)
    assert "Welcome" in text_of(fake.home("U1"))
    assert fake.home("U2") is None


async def test_rate_limited_call_succeeds_after_retry_after(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.rate_limit("chat.postMessage", retry_after=1)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    started = time.monotonic()
    posted = await client.chat_postMessage(channel="C1", text="eventually")
    waited = time.monotonic() - started
    assert posted["ok"] and waited >= 1.0
    first, second = fake.calls_to("chat.postMessage")
    assert first.rate_limited and first.error == "ratelimited" and not second.rate_limited
    assert second.at - first.at >= 1.0
    assert [m["text"] for m in fake.messages("C1")] == ["eventually"]


async def test_rate_limit_without_a_retry_handler_raises(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.rate_limit("users.info", retry_after=30, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as limited:
            await client.users_info(user="UBOT")
        assert limited.value.response.status_code == 429
        assert limited.value.response.headers["Retry-After"] == "30"
        assert limited.value.response["error"] == "ratelimited"
    assert (await client.users_info(user="UBOT"))["ok"]


async def test_injected_failures(client: AsyncWebClient, fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C1", text="x")
    assert failed.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert (await client.api_call("reactions.add", json={"channel": "C1", "name": "tada"}))["ok"]


async def test_wait_for_returns_matching_calls_or_says_what_it_saw(client: AsyncWebClient, fake: FakeSlack) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="late")

    task = asyncio.create_task(later())
    (call,) = await fake.wait_for("chat.postMessage", where=lambda c: c.params.get("text") == "late")
    await task
    assert isinstance(call, SlackCall) and call.params["channel"] == "C1"

    with pytest.raises(AssertionError, match=r"(?s)views\.open.*calls seen:.*chat\.postMessage"):
        await fake.wait_for("views.open", timeout=0.1)


async def test_response_urls_record_payloads(fake: FakeSlack) -> None:
    async with httpx.AsyncClient() as http:
        answered = await http.post(fake.response_url("k1"), json={"text": "done", "response_type": "ephemeral"})
    assert answered.status_code == 200
    assert fake.responses("k1") == [{"text": "done", "response_type": "ephemeral"}]
    assert fake.responses("k2") == []
    assert await fake.wait_for_responses("k1") == fake.responses()


# --- requests as Slack builds and signs them ----------------------------------------------------------------------


def test_signatures_verify_as_slack_sdk_checks_them() -> None:
    body = b"token=x&text=hello"
    verifier = SignatureVerifier(SECRET)
    good = sign(SECRET, body)
    assert verifier.is_valid(body, good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    bad = sign(SECRET + "-but-not-quite", body)
    assert not verifier.is_valid(body, bad["X-Slack-Request-Timestamp"], bad["X-Slack-Signature"])
    stale = sign(SECRET, body, int(time.time()) - 600)
    assert not verifier.is_valid(body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])
    assert not verifier.is_valid(body + b"!", good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])


def test_slash_command_body_has_slacks_fields() -> None:
    body, content_type = slash_command("submit 12.50", user_id="U1", channel_id="C1", response_url="http://r/1")
    assert content_type == "application/x-www-form-urlencoded"
    fields = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert fields["command"] == "/sync2books" and fields["text"] == "submit 12.50"
    assert fields["user_id"] == "U1" and fields["channel_id"] == "C1" and fields["team_id"] == "T0001"
    assert fields["response_url"] == "http://r/1" and fields["trigger_id"]
    expected = {"token", "team_domain", "channel_name", "user_name", "api_app_id"}
    assert expected <= fields.keys()


def test_interaction_payload_round_trips() -> None:
    payload = {"type": "shortcut", "callback_id": "x", "text": "a&b=c ü"}
    body, content_type = interaction(payload)
    assert content_type == "application/x-www-form-urlencoded"
    assert json.loads(parse_qs(body.decode())["payload"][0]) == payload


def test_block_actions_takes_the_clicked_element_from_the_message() -> None:
    message = {"ts": "1700000000.000100", "text": "t", "blocks": BLOCKS}
    body, _ = block_actions(user_id="U1", action_id="approve", channel_id="C1", message=message)
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    (clicked,) = payload["actions"]
    assert clicked["block_id"] == "decide" and clicked["value"] == "e1" and clicked["type"] == "button"
    assert payload["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == "C1" and payload["message"]["ts"] == message["ts"]


def test_view_submission_and_event_shapes() -> None:
    body, _ = view_submission(user_id="U1", callback_id="expense", values={"amount": {"value": "12.50"}})
    view = json.loads(parse_qs(body.decode())["payload"][0])["view"]
    assert view["callback_id"] == "expense"
    assert view["state"]["values"] == {"amount": {"value": {"type": "plain_text_input", "value": "12.50"}}}

    body, content_type = event_callback({"type": "app_mention", "text": "hi", "user": "U1", "channel": "C1"})
    envelope = json.loads(body)
    assert content_type == "application/json" and envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev") and envelope["team_id"] == "T0001"


# --- end to end: a Bolt app between the sender and the fake -------------------------------------------------------


@contextlib.asynccontextmanager
async def served(app: AsyncApp) -> AsyncIterator[str]:
    """The Bolt app behind Starlette on 127.0.0.1, port 0, on this test's loop; yields its events URL."""
    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    sock = bind_socket("127.0.0.1", 0)
    web = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "the Bolt app did not start"
            await asyncio.sleep(0.01)
        yield f"{url_of(sock)}/slack/events"
    finally:
        server.should_exit = True
        await task
        sock.close()


def bolt_app(fake: FakeSlack, retries_seen: list[str | None]) -> AsyncApp:
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.api_url), signing_secret=SECRET)

    @app.command("/sync2books")
    async def command(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await respond(f"got {body['text']}")
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "expense",
                "title": {"type": "plain_text", "text": "Expense"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "An expense"}}],
            },
        )

    @app.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_update(channel=body["channel"]["id"], ts=body["message"]["ts"], text="Approved")

    @app.view("expense")
    async def submitted(ack: AsyncAck, view: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        amount = view["state"]["values"]["amount"]["value"]["value"]
        await client.chat_postMessage(channel=body["user"]["id"], text=f"Expense of {amount} submitted")

    @app.event("app_mention")
    async def mentioned(say: AsyncSay, request: AsyncBoltRequest) -> None:
        retries_seen.append(request.headers.get("x-slack-retry-num", [None])[0])
        await say("hello")

    @app.options("vendor")
    async def vendors(ack: AsyncAck, payload: dict[str, Any]) -> None:
        await ack(options=[{"text": {"type": "plain_text", "text": f"{payload['value']} Ltd"}, "value": "v1"}])

    return app


async def test_a_bolt_app_works_end_to_end_against_the_fakes(fake: FakeSlack, client: AsyncWebClient) -> None:
    retries_seen: list[str | None] = []
    async with served(bolt_app(fake, retries_seen)) as events_url, SlackSender(events_url, SECRET, fake=fake) as slack:
        for kind in ("bad", "stale"):
            refused = await slack.command("x", user_id="U1", channel_id="C1", signature=kind)
            assert refused.status_code == 401, kind
        assert fake.calls == [], "a request with a bad signature reaches no handler"

        sent = await slack.command("submit 12.50", user_id="U1", channel_id="C1")
        assert sent.status_code == 200 and sent.elapsed < 3.0 and sent.response_key
        assert await fake.wait_for_responses(sent.response_key) == [{"text": "got submit 12.50"}]
        await fake.wait_for("views.open")

        posted = await client.chat_postMessage(channel="C1", text="Expense submitted", blocks=BLOCKS)
        clicked = await slack.action(user_id="U1", action_id="approve", channel_id="C1", message=fake.messages("C1")[0])
        assert clicked.status_code == 200
        await fake.wait_for("chat.update")
        assert fake.messages("C1")[0]["text"] == "Approved" and fake.messages("C1")[0]["ts"] == posted["ts"]

        submitted = await slack.submit_view(user_id="U1", callback_id="expense", values={"amount": {"value": "12.50"}})
        assert submitted.status_code == 200
        await fake.wait_for("chat.postMessage", count=2)
        assert [m["text"] for m in fake.messages("U1")] == ["Expense of 12.50 submitted"]

        mentioned = await slack.event(
            {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "channel": "C1", "ts": "1.2"}
        )
        assert mentioned.status_code == 200
        await fake.wait_for("chat.postMessage", count=3)
        assert fake.messages("C1")[-1]["text"] == "hello"
        redelivered = await slack.event(
            {"type": "app_mention", "user": "U1", "text": "again", "channel": "C1"}, retry_num=1
        )
        assert redelivered.status_code == 200
        await fake.wait_for("chat.postMessage", count=4)
        assert retries_seen == [None, "1"]

        options = await slack.suggestion(user_id="U1", action_id="vendor", value="Acme")
        assert options.response.json()["options"][0]["text"]["text"] == "Acme Ltd"


async def test_a_channel_without_the_bot_refuses_its_posts_until_it_is_invited(
    client: AsyncWebClient, fake: FakeSlack
) -> None:
    fake.remove_bot("C9")
    fake.remove_bot("G9")
    for channel, error in (("C9", "not_in_channel"), ("G9", "channel_not_found")):
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel=channel, text="hello")
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as unread:
        await client.conversations_history(channel="C9")
    assert unread.value.response["error"] == "not_in_channel"
    assert (await client.conversations_info(channel="C9"))["channel"]["is_member"] is False
    fake.invite_bot("C9")
    assert (await client.chat_postMessage(channel="C9", text="hello"))["ok"]
    assert fake.refusals == []  # a state of the workspace, not a malformed payload
