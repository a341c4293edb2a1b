"""What a stranger or a careless sender can throw at ``/slack/events``, against the bot as its own process.

Forged, stale and mismatched signatures; unsigned garbage; bodies of 5 MB and 50 MB (with and without a
declared length); odd header values; and several hundred correctly signed payloads that Hypothesis makes
up from the bot's own action ids, block ids and the real ids of a company it serves. The bot must answer
every one with a 2xx or 4xx within Slack's three seconds, print no traceback, change nothing, and keep its
memory: a body is refused before it is read whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import sqlite3
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bot import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, SIGNING_SECRET
from tests.support.bot_process import API_KEY, BotProcess
from tests.support.expense_modal import filled
from tests.support.expenses import ledger_refs
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, text_of
from tests.support.sandbox import authorize
from tests.support.sandbox_client import SandboxClient
from tests.support.slack_requests import FORM, JSON, SlackSender, sign

NOBODY = "UNOBODY"  # a real workspace member, in none of the company's channels, admin of nothing
MB = 1024 * 1024
EXAMPLES = 80  # per kind of payload: four kinds, 320 signed payloads in all


@dataclass
class Tally:
    """What the suite sent and how the bot answered, printed at the end (``pytest -s``)."""

    statuses: Counter[int] = field(default_factory=Counter)
    slowest: float = 0.0  # of the signed payloads: the answers Slack waits for
    slowest_body: bytes = b""

    def record(self, status: int, elapsed: float | None, body: bytes = b"") -> None:
        self.statuses[status] += 1
        if elapsed is not None and elapsed > self.slowest:
            self.slowest, self.slowest_body = elapsed, body

    @property
    def tried(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


@dataclass
class World:
    bot: BotProcess
    fake: FakeSlack
    company_id: str
    connection_id: str
    expense_id: str
    metadata: str  # an expense modal's private_metadata as the bot made it for the company
    tally: Tally


def _snapshot(world: World) -> dict[str, Any]:
    # What a request could add or rewrite; the bot's own bookkeeping (send states, watch times) may move on.
    queries = {
        "companies": "SELECT id, name, description FROM companies",
        "channel_links": "SELECT * FROM channel_links",
        "connections": "SELECT id, company_id, status FROM connections",
        "auth_links": "SELECT id, company_id, channel_id FROM auth_links",
        "expenses": "SELECT id, company_id, connection_id, channel_id, submitted_by, body FROM expenses",
        "receipts": "SELECT id, expense_id, slack_file_id FROM receipts",
        "announcements": "SELECT key, channel_id, kind FROM announcements",
    }
    with sqlite3.connect(world.bot.database) as db:
        stored: dict[str, Any] = {name: sorted(db.execute(query)) for name, query in queries.items()}
    calls = world.fake.calls
    stored["posted"] = [
        c.params
        for c in calls
        if c.method in ("chat.postMessage", "chat.update") and c.params.get("channel") in (CHANNEL, OTHER_CHANNEL)
    ]
    # A modal of the company's (an expense, a registration) opened or changed for the sender would be a leak.
    stored["views"] = [
        c.method
        for c in calls
        if c.method in ("views.open", "views.update", "views.push")
        and (c.params.get("view") or {}).get("callback_id") in ("expense", "register_company")
    ]
    return stored


async def _serve_a_company(bot: BotProcess, fake: FakeSlack) -> tuple[str, str, str, str]:
    async with SlackSender(bot.events_url, SIGNING_SECRET, fake=fake) as slack:
        await slack.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        await fake.wait_for("chat.postMessage", timeout=15)
        await slack.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
        await fake.wait_for("chat.postMessage", count=2, timeout=15)
        assert (await authorize(fake.messages(CHANNEL)[-1]["blocks"][1]["accessory"]["url"])).status_code == 200
        await fake.wait_for("chat.postMessage", count=3, timeout=30)
        async with SandboxClient(bot.sandbox_url, API_KEY) as client:
            (company,) = (await client.list_companies()).results
            (connection,) = await client.list_connections(company.id)
            refs = await ledger_refs(client, connection)
        await slack.command("expense", user_id=MEMBER, channel_id=CHANNEL)
        await fake.wait_for("views.open", timeout=15)
        view = fake.views()[-1]
        await slack.submit_view(user_id=MEMBER, callback_id="expense", values=filled(refs), view=view)
        await fake.wait_for("chat.postMessage", count=4, timeout=15)
        # Everything the expense sets going ends before the suite takes its snapshot: in the books, message updated.
        await fake.wait_for("chat.update", where=lambda c: "In the books" in text_of(c.params), timeout=30)
        await fake.wait_for("chat.postMessage", where=lambda c: "is in the books" in text_of(c.params), timeout=30)
    with sqlite3.connect(bot.database) as db:
        (expense_id,) = db.execute("SELECT id FROM expenses").fetchone()
    return company.id, connection.id, str(expense_id), str(view["private_metadata"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with FakeSlack() as fake:
        fake.add_user(ADMIN, name="ada", is_admin=True)
        fake.add_user(MEMBER, name="max")
        fake.add_user(NOBODY, name="nobody")
        for channel, name in ((CHANNEL, "acme-books"), (OTHER_CHANNEL, "other-books")):
            fake.add_channel(channel, name=name)
        for user in (ADMIN, MEMBER):
            fake.add_membership(user, CHANNEL)
        fake.add_membership(NOBODY, OTHER_CHANNEL)
        with BotProcess(fake, tmp_path_factory.mktemp("hostile")) as bot:
            ids = asyncio.run(_serve_a_company(bot, fake))
            world = World(bot, fake, *ids, tally=Tally())
            yield world
            answers = dict(sorted(world.tally.statuses.items()))
            print(
                f"\nhostile-input suite: {world.tally.tried} requests, answers {answers},"
                f" 5xx {world.tally.server_errors}, slowest {world.tally.slowest * 1000:.0f} ms"
            )
        output = bot.output
        (bot.workdir / "bot.log").write_text(output)
    assert "Traceback" not in output, output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def _post(world: World, body: bytes, headers: dict[str, str]) -> httpx.Response:
    started = time.perf_counter()
    response = httpx.post(world.bot.events_url, content=body, headers=headers, timeout=10)
    world.tally.record(response.status_code, time.perf_counter() - started, body)
    return response


def _signed(world: World, body: bytes, content_type: str) -> httpx.Response:
    return _post(world, body, {"Content-Type": content_type, **sign(SIGNING_SECRET, body)})


def _settle(world: World) -> None:
    """Let the work the bot does after each ack finish; there is no event for nothing happening."""
    time.sleep(1.5)


# --------------------------------------------------------------------------- signatures and garbage


def test_forged_stale_mismatched_and_unsigned_requests_are_refused_before_parsing(world: World) -> None:
    before = _snapshot(world)
    command = urllib.parse.urlencode({"command": "/sync2books", "text": "register Evil", "user_id": ADMIN}).encode()
    now = int(time.time())
    good = sign(SIGNING_SECRET, command)
    attempts: list[tuple[bytes, dict[str, str], int]] = [
        (command, sign("not-the-secret", command), 401),  # forged
        (command, sign(SIGNING_SECRET, command, now - 6 * 60), 401),  # stale: replayed after five minutes
        (command, sign(SIGNING_SECRET, command, now + 6 * 60), 401),  # from the future
        (command + b"&x=1", good, 401),  # a captured signature on another body
        (command, {}, 401),  # unsigned
        (command, {**good, "X-Slack-Signature": good["X-Slack-Signature"].upper()}, 401),
        (command, {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]}, 401),
        (command, {**good, "X-Slack-Request-Timestamp": "9" * 5000}, 401),
        (command, {**good, "X-Slack-Signature": "v0=" + "a" * 5000}, 401),
        (command, {**good, "X-Slack-Request-Timestamp": "-" + str(now)}, 401),
        (command, {**good, "X-Slack-Request-Timestamp": f"{now}.5"}, 401),
        (b"payload=notjson{", {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + "0" * 64}, 401),
        (b"\x00\xff" * 1000, {}, 401),
    ]
    for body, headers, expected in attempts:
        response = _post(world, body, {"Content-Type": FORM, **headers})
        assert response.status_code == expected, (headers, response.text)
    for body, content_type in (
        (b"payload=notjson{", FORM),
        (b"payload=%5B1%2C2%5D", FORM),
        (b"payload=1&payload=2", FORM),
        (b"\xff\xfe\x00garbage", FORM),
        (b"[1, 2, 3]", JSON),
        (b'{"type": "event_callback"', JSON),
        (b'"just a string"', JSON),
    ):
        response = _signed(world, body, content_type)
        assert response.status_code == 400, (body, response.text)
    assert _snapshot(world) == before


def _raw_request(world: World, head: bytes, body_chunks: Iterator[bytes]) -> int:
    """Speak HTTP/1.1 by hand (for headers httpx would not send), sending the body until the bot answers."""
    parsed = urllib.parse.urlsplit(world.bot.url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        while b"\r\n" not in answer:
            received = sock.recv(65536)
            if not received:
                break
            answer += received
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    world.tally.record(status, None)  # sending 50 MB takes what it takes; the answer is what counts
    return status


def _head(world: World, extra: str) -> bytes:
    host = urllib.parse.urlsplit(world.bot.url).netloc
    now = int(time.time())
    return (
        f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: {FORM}\r\n"
        f"X-Slack-Request-Timestamp: {now}\r\nX-Slack-Signature: v0={'0' * 64}\r\n{extra}\r\n"
    ).encode("latin-1")


@pytest.mark.parametrize(
    ("size", "chunked"), [(5 * MB, False), (50 * MB, False), (50 * MB, True)], ids=["5MB", "50MB", "50MB-chunked"]
)
def test_large_bodies_are_refused_without_being_read_whole(world: World, size: int, chunked: bool) -> None:
    before = world.bot.memory_kib("VmHWM")
    piece = b"x" * (256 * 1024)

    def body() -> Iterator[bytes]:
        for _ in range(size // len(piece)):
            yield (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece

    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n"
    status = _raw_request(world, _head(world, framing), body())
    grown_mib = (world.bot.memory_kib("VmHWM") - before) / 1024
    print(
        f"\n{size // MB} MB body{' (chunked)' if chunked else ''}: answered {status}, peak RSS grew {grown_mib:.1f} MiB"
    )
    assert status == 413
    assert grown_mib < 50


@pytest.mark.parametrize(
    "extra",
    [
        "Content-Length: abc\r\n",
        "Content-Length: " + "9" * 40 + "\r\n",
        "Content-Length: -5\r\n",
        "X-Slack-Request-Timestamp: \xe9\xe9\r\nContent-Length: 0\r\n",
        "X-Slack-Signature: v0=\xff\xfe\r\nContent-Length: 0\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
    ],
)
def test_odd_header_values_get_a_4xx(world: World, extra: str) -> None:
    status = _raw_request(world, _head(world, extra), iter([b"abc"]))
    assert 400 <= status < 500, status


# --------------------------------------------------------------------------- signed payloads from Hypothesis

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
HOSTILE_TEXT = st.sampled_from(["<!channel>", "<@UADMIN>", "<https://evil.example|click>", "&", "\x00", "‮"])
WORDS = st.sampled_from(
    ["help", "register", "link", "connect", "connections", "disconnect", "expense", "status", "xero", "../sandbox"]
)
BLOCK_IDS = st.sampled_from(
    [
        "type",
        "issue_date",
        "currency",
        "merchant",
        "contact",
        "bank_account",
        "line0_account",
        "line0_net",
        "line0_tax",
        "line0_tracking",
        "notes",
        "post_as_draft",
        "receipts",
        "connection",
        "name",
        "description",
        "expense",
        "line99_net",
    ]
)
ACTION_IDS = st.sampled_from(
    [
        "fix_and_retry",
        "receipt_new_expense",
        "receipt_attach",
        "disconnect_confirm",
        "disconnect_cancel",
        "expense_add_line",
        "expense_currency",
        "expense_connection",
        "new_expense",
        "auth_link:XERO",
        "unknown",
    ]
)
OPTION_IDS = st.sampled_from(
    ["opt_contact", "opt_account", "opt_bank_account", "opt_tax_rate", "opt_tracking", "opt_invoice_to", "opt_x"]
)
USERS = st.sampled_from([NOBODY, NOBODY, NOBODY, "UNKNOWN1", "", "<!channel>", "U" + "A" * 40])
CHANNELS = st.sampled_from([CHANNEL, OTHER_CHANNEL, "D0NOBODY", "", "C<!here>", "G123"])


def _texts(world: World) -> st.SearchStrategy[str]:
    ids = st.sampled_from([world.company_id, world.connection_id, world.expense_id, "F0FILE", "x" * 200])
    return st.one_of(
        st.text(max_size=60), ids, HOSTILE_TEXT, st.lists(WORDS | ids | HOSTILE_TEXT, max_size=4).map(" ".join)
    )


def _metadata(world: World) -> st.SearchStrategy[str]:
    real = json.loads(world.metadata)

    def mutated(changes: dict[str, Any]) -> str:
        return json.dumps({**real, **changes})

    keys = st.sampled_from([*real, "retry_of", "lines", "bank_account"])
    return st.one_of(
        st.just(world.metadata),
        st.dictionaries(keys, JSONISH | st.integers(min_value=-(10**9), max_value=10**12), max_size=4).map(mutated),
        st.builds(lambda n: mutated({"lines": n}), st.integers(min_value=-5, max_value=10**9)),
        st.builds(lambda e: mutated({"retry_of": e}), st.just(world.expense_id)),
        st.text(max_size=40),
        JSONISH.map(json.dumps),
    )


def _state(world: World) -> st.SearchStrategy[dict[str, Any]]:
    element = st.one_of(
        JSONISH,
        st.builds(lambda v: {"type": "plain_text_input", "value": v}, _texts(world) | JSONISH),
        st.builds(
            lambda v: {"type": "static_select", "selected_option": v}, JSONISH | st.builds(dict, value=_texts(world))
        ),
        st.builds(lambda v: {"selected_options": v}, st.lists(JSONISH, max_size=3)),
        st.builds(lambda v: {"files": v}, st.lists(JSONISH, max_size=3)),
    )
    action = st.sampled_from(["value", "opt_account", "opt_contact", "expense_currency", "opt_tracking", "x"])
    return st.dictionaries(BLOCK_IDS, st.dictionaries(action, element, max_size=2) | JSONISH, max_size=6)


def _interaction(payload: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def _check(world: World, response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert world.tally.slowest < 3.0, urllib.parse.unquote_plus(world.tally.slowest_body.decode(errors="replace"))


@pytest.fixture(scope="module")
def unchanged(world: World) -> Iterator[None]:
    before = _snapshot(world)
    yield
    _settle(world)
    assert _snapshot(world) == before


@pytest.mark.usefixtures("unchanged")
def test_signed_slash_commands_of_any_shape(world: World) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        text=_texts(world),
        user=USERS,
        channel=CHANNELS,
        drop=st.sets(st.sampled_from(["user_id", "channel_id", "text", "trigger_id", "response_url"])),
    )
    def one(text: str, user: str, channel: str, drop: set[str]) -> None:
        fields = {
            "command": "/sync2books",
            "text": text,
            "user_id": user,
            "channel_id": channel,
            "team_id": "T0001",
            "trigger_id": "1.2.abc",
            # Slack gives each request its own response_url, good for five posts.
            "response_url": world.fake.response_url(f"fuzz-{secrets.token_hex(6)}"),
        }
        body = urllib.parse.urlencode({k: v for k, v in fields.items() if k not in drop}).encode()
        _check(world, _signed(world, body, FORM))

    one()


@pytest.mark.usefixtures("unchanged")
def test_signed_view_submissions_of_any_shape(world: World) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        callback=st.sampled_from(["expense", "register_company", "attach_receipt", "unknown"]),
        metadata=_metadata(world) | CHANNELS,
        state=_state(world),
        user=USERS,
        view_extra=st.dictionaries(st.sampled_from(["state", "id", "blocks", "hash"]), JSONISH, max_size=2),
    )
    def one(callback: str, metadata: str, state: dict[str, Any], user: str, view_extra: dict[str, Any]) -> None:
        view = {"id": "V0FUZZ", "callback_id": callback, "private_metadata": metadata, "state": {"values": state}}
        payload = {"type": "view_submission", "user": {"id": user}, "view": {**view, **view_extra}}
        _check(world, _signed(world, _interaction(payload), FORM))

    one()


@pytest.mark.usefixtures("unchanged")
def test_signed_block_actions_of_any_shape(world: World) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        action_id=ACTION_IDS,
        value=_texts(world) | JSONISH,
        user=USERS,
        channel=CHANNELS,
        in_view=st.booleans(),
        metadata=_metadata(world),
        state=_state(world),
    )
    def one(
        action_id: str, value: Any, user: str, channel: str, in_view: bool, metadata: str, state: dict[str, Any]
    ) -> None:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": "1.2.abc",
            "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button"}],
            "channel": {"id": channel},
            # Slack gives each request its own response_url, good for five posts.
            "response_url": world.fake.response_url(f"fuzz-{secrets.token_hex(6)}"),
        }
        if in_view:
            payload["view"] = {"id": "V0FUZZ", "hash": "1.a", "private_metadata": metadata, "state": {"values": state}}
        _check(world, _signed(world, _interaction(payload), FORM))

    one()


@pytest.mark.usefixtures("unchanged")
def test_signed_option_requests_of_any_shape(world: World) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(action_id=OPTION_IDS, value=_texts(world) | JSONISH, user=USERS, metadata=_metadata(world))
    def one(action_id: str, value: Any, user: str, metadata: str) -> None:
        payload = {
            "type": "block_suggestion",
            "user": {"id": user},
            "action_id": action_id,
            "block_id": "b",
            "value": value,
            "view": {"id": "V0FUZZ", "private_metadata": metadata},
        }
        response = _signed(world, _interaction(payload), FORM)
        _check(world, response)
        if response.status_code == 200 and response.content:
            assert response.json() in ({"options": []}, {}), response.text  # none of the company's books shown

    one()


def test_the_embedded_sandbox_keeps_its_own_pages_and_settings_out_of_fault_injection(world: World) -> None:
    settings_url = f"{world.bot.sandbox_url}/sandbox/settings"
    headers = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.put(settings_url, json={"errorRate": 1.0}, headers=headers).status_code == 200
    try:
        for _ in range(5):
            assert httpx.get(settings_url, headers=headers).status_code == 200
        assert httpx.get(f"{world.bot.sandbox_url}/companies", headers=headers).status_code == 503
    finally:
        assert httpx.put(settings_url, json={"errorRate": 0.0}, headers=headers).status_code == 200


def test_the_tally_has_no_server_error(world: World) -> None:
    assert world.tally.tried >= 300 + 20
    assert world.tally.server_errors == 0, world.tally.statuses
