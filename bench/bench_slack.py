"""Benchmark: signed Slack slash commands over HTTP, tallybot's `/tally` beside a bare slack-bolt
app's `/hello`, measured in the same run. Not a test: run it and read the figures.

    python bench/bench_slack.py [--requests 40] [--rounds 3] [--clients 1,10,50]

Each app runs in its own server process (so the load generator never shares its core), both
set up the same way: slack-bolt's `web_app()` under an aiohttp `AppRunner` on 127.0.0.1:0,
tallybot's logging (INFO, redaction installed), and a loopback fake of the Web API (auth.test,
users.info). Four apps:

- a bare bolt app with bolt's defaults, as a newcomer would serve it: the ratio's baseline;
- the same with `process_before_response=True`, which answers as the listener returns
  instead of polling for its ack every 10 ms;
- tallybot's Slack adapter in HTTP mode on a real Store in a temporary file, demo race seeded;
- the same with `/tally`'s answer made once at start: what the adapter costs on its own.

The clients (1, 10, 50) each send `--requests` signed commands over kept-alive connections, the
apps one after the other, never at once, in `--rounds` turns; each app's median round shows.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.slack_fake import PROXY_ENV_VARS, FakeSlack, signed_slash_request  # noqa: E402

SECRET = FakeSlack().signing_secret
TODAY = date(2024, 4, 3)  # the demo race's day after the seed articles: 28/32
APPS = {  # name: (command, what its answer must hold, label)
    "bare": ("/hello", b"hello", 'bare slack-bolt app, "/hello" acks "hello"'),
    "bare-inline": ("/hello", b"hello", "the same, process_before_response=True"),
    "tallybot": ("/tally", b"28/32", "tallybot's Slack adapter, /tally"),
    "adapter": ("/tally", b"28/32", "the same, the answer made once (the adapter)"),
}
CLIENTS = (1, 10, 50)


# --- the servers (each in its own process) ------------------------------------------------------


async def serve_bare(fake: FakeSlack, inline: bool) -> tuple[str, Callable[[], Awaitable[None]]]:
    from aiohttp import web
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=SECRET,
        process_before_response=inline,
    )

    @app.command("/hello")
    async def hello(ack: AsyncAck) -> None:
        await ack("hello")

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}/slack/events", runner.cleanup


async def serve_tallybot(
    fake: FakeSlack, folder: Path, core: bool
) -> tuple[str, Callable[[], Awaitable[None]]]:
    from bot.adapters.slack import adapter
    from bot.adapters.slack.adapter import SlackPlatform
    from bot.adapters.slack.settings import SlackConfig
    from bot.clock import Clock
    from bot.domain import Actor
    from bot.racefile import load_race
    from bot.service import Service
    from bot.store.store import Store

    race = load_race("nato-sg-2024")
    clock = Clock(ZoneInfo(race.timezone), TODAY)
    service = Service(await Store.open(folder / "bench.db", clock.now), race, clock)
    await service.start(demo=True)
    if not core:  # what the adapter, bolt and aiohttp cost without the command's own work
        reader = adapter.Context(service, Actor("slack", "U0", "u0"), "C1")
        made = await adapter.run_line(reader, "/tally")

        async def made_once(ctx: object, line: str) -> object:
            return made

        adapter.run_line = made_once  # type: ignore[assignment]
    config = SlackConfig(mode="http", port=0, api_base_url=fake.api_url)
    platform = SlackPlatform(
        service, config, bot_token=fake.bot_token, signing_secret=fake.signing_secret
    )
    await platform.start()

    async def close() -> None:
        await platform.close()
        await service.store.close()

    return platform.url, close


async def serve(kind: str) -> None:
    """Serve one app, print its URL, run until stdin closes."""
    from bot.logs import install_redaction

    logging.basicConfig(  # as `tallybot slack` logs
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_redaction()
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlack() as fake:
            if kind in ("tallybot", "adapter"):
                served = serve_tallybot(fake, Path(tmp), core=kind == "tallybot")
            else:
                served = serve_bare(fake, inline=kind == "bare-inline")
            url, close = await served
            print(url, flush=True)
            await asyncio.to_thread(sys.stdin.read)
            await close()


# --- the clients --------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(url: str, kind: str, clients: int, each: int) -> tuple[float, list[float]]:
    """`clients` connections sending `each` signed commands; (requests/s, latencies)."""
    command, expected, _ = APPS[kind]

    def signed(n: int) -> list[tuple[str, dict[str, str]]]:
        return [
            signed_slash_request(SECRET, command, "", user_id=f"U{i % 5}", team_id="T1")
            for i in range(n)
        ]

    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession, requests, keep: bool) -> None:
        for body, headers in requests:
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                answer = await resp.read()
            if resp.status != 200 or expected not in answer:
                raise SystemExit(f"{kind} answered {resp.status}: {answer[:200]!r}")
            if keep:
                latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        warm = signed(clients * 5)  # opens every connection, fills the apps' caches
        await asyncio.gather(*(client(session, warm[i::clients], False) for i in range(clients)))
        queue = iter(signed(clients * each))  # shared: each client takes the next request
        start = time.perf_counter()
        await asyncio.gather(*(client(session, queue, True) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies


async def start_server(kind: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_ENV_VARS}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    url = (await process.stdout.readline()).decode().strip()
    if not url.startswith("http://"):
        raise SystemExit(f"the {kind} server did not start (exit {await process.wait()})")
    return process, url


async def main(each: int, rounds: int, clients_asked: tuple[int, ...]) -> None:
    servers = {kind: await start_server(kind) for kind in APPS}
    try:
        print(
            f"signed slash commands over HTTP, {each} requests per client; the median of "
            f"{rounds} rounds, the apps taking turns in each"
        )
        for clients in clients_asked:
            print(f"{clients} concurrent client{'s' if clients > 1 else ''}")
            runs: dict[str, list[tuple[float, list[float]]]] = {kind: [] for kind in APPS}
            for _ in range(rounds):  # turns, so a burst of other load hits every app alike
                for kind in APPS:
                    runs[kind].append(await drive(servers[kind][1], kind, clients, each))
            rates = {}
            for kind, (_, _, label) in APPS.items():
                rate, latencies = sorted(runs[kind])[rounds // 2]
                rates[kind] = rate
                p50, p99 = (percentile(latencies, q) * 1e3 for q in (0.5, 0.99))
                print(f"  {label:<45} {rate:7.0f} /s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
            print(
                f"  ratio: {rates['tallybot'] / rates['bare']:.2f}x the bare app's rate "
                f"({rates['tallybot'] / rates['bare-inline']:.2f}x the inline one's); "
                f"the adapter alone {rates['adapter'] / rates['bare']:.2f}x"
            )
    finally:
        for process, _ in servers.values():
            assert process.stdin is not None
            process.stdin.close()
            await process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="per client and round (40)")
    parser.add_argument("--rounds", type=int, default=3, help="the median is shown (3)")
    parser.add_argument(
        "--clients", default=",".join(map(str, CLIENTS)), help="concurrent clients (1,10,50)"
    )
    parser.add_argument("--serve", choices=APPS, help=argparse.SUPPRESS)  # a server process
    args = parser.parse_args()
    for name in ("requests", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} {getattr(args, name)}: give at least 1")
    try:
        clients = tuple(int(n) for n in args.clients.split(","))
    except ValueError:
        clients = ()
    if not clients or min(clients) < 1:
        parser.error(f"--clients {args.clients}: give counts of at least 1, e.g. 1,10,50")
    asyncio.run(serve(args.serve) if args.serve else main(args.requests, args.rounds, clients))
