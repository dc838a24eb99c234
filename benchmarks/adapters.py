"""Publishes per second through each adapter against the in-process sandbox (no latency,
no faults), beside the floor: a bare ``requests.Session`` loop sending the same requests.

The floor's requests are recorded from one warm-up publish of the adapter (method, URL,
headers, body), then replayed with a fresh text (and fresh rkey, where the adapter chose
one) per post. Ids the server handed out in earlier steps (Meta containers) are replayed as
recorded. Run: ``.venv/bin/python benchmarks/adapters.py [--posts N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

import requests

from dissem.compose.types import Media, Part
from dissem.config.models import Channel
from dissem.platforms.base import MemoryContext, Platform
from dissem.platforms.bluesky import new_tid
from dissem.platforms.registry import available_platforms, build_adapter, get_platform
from dissem.sandbox import RunningSandbox, start_sandbox
from dissem.settings import Settings

MARK = "BENCHMARK{:08d}"

#: sample accounts; credentials are generated from the adapter's first credential set
ACCOUNTS = {
    "x": "@bench",
    "mastodon": "@bench@example.social",
    "bluesky": "bench.example.org",
    "facebook": "1234567890",
    "instagram": "17841400000000000",
    "threads": "1234567890",
    "linkedin": "urn:li:organization:1234",
    "telegram": "@bench",
}
NEEDS_IMAGE = {"instagram"}
#: non-2xx answers the floor got, by status (replayed server-issued ids may be refused)
FLOOR_ERRORS: dict[int, int] = {}


@dataclass
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def make_adapter(platform: str, settings: Settings) -> Platform:
    cls = get_platform(platform)
    names = cls.required_credentials[0]
    channel = Channel(
        name=f"{platform}-bench",
        platform=platform,
        account=ACCOUNTS[platform],
        timezone="UTC",
        credentials={name: f"BENCH_{platform.upper()}_{name.upper()}" for name in names},
    )
    environ = {
        f"BENCH_{platform.upper()}_{n.upper()}": f"bench-{platform}-{n}-secret" for n in names
    }
    return build_adapter(channel, settings, environ=environ)


def part(platform: str, n: int) -> Part:
    text = f"Ministry opens a new office {MARK.format(n)}"
    media = (Media("https://portal.example/photo.jpg", "photo"),) if platform in NEEDS_IMAGE else ()
    return Part(index=1, total=1, text=text, length=len(text), limit=280, media=media)


def through_adapter(adapter: Platform, platform: str, posts: int, first: int) -> float:
    started = time.perf_counter()
    for n in range(first, first + posts):
        adapter.publish(part(platform, n), MemoryContext(f"bench-{n}"))
    return posts / (time.perf_counter() - started)


def record_one(adapter: Platform, platform: str) -> tuple[list[Recorded], dict[str, str]]:
    """The requests one publish sends (after the session is set up), and the context state."""
    adapter.publish(part(platform, 0), MemoryContext("warm-up"))  # logins, caches
    seen: list[Recorded] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        req = response.request
        body = req.body.encode() if isinstance(req.body, str) else req.body
        seen.append(Recorded(str(req.method), str(req.url), dict(req.headers), body))

    adapter.session.hooks["response"].append(hook)
    ctx = MemoryContext("recorded")
    adapter.publish(part(platform, 99_999_999), ctx)
    adapter.session.hooks["response"].remove(hook)
    return seen, dict(ctx.state)


def floor(recorded: list[Recorded], state: dict[str, str], posts: int, first: int) -> float:
    old_mark = MARK.format(99_999_999).encode()
    old_rkey = state.get("rkey", "").encode()
    with requests.Session() as session:
        started = time.perf_counter()
        for n in range(first, first + posts):
            new_mark = MARK.format(50_000_000 + n).encode()
            new_rkey = new_tid().encode()
            for r in recorded:
                body = r.body.replace(old_mark, new_mark) if r.body else r.body
                if body and old_rkey:
                    body = body.replace(old_rkey, new_rkey)
                answer = session.request(r.method, r.url, headers=r.headers, data=body, timeout=10)
                if answer.status_code >= 300:
                    FLOOR_ERRORS[answer.status_code] = FLOOR_ERRORS.get(answer.status_code, 0) + 1
        return posts / (time.perf_counter() - started)


def run(posts: int, rounds: int) -> list[tuple[str, float, float, int]]:
    """Per platform: median posts/s of the adapter and of the floor over ``rounds``
    alternating rounds (alternating, so background load hits both sides alike)."""
    rows = []
    sandbox: RunningSandbox
    with start_sandbox() as sandbox:
        settings = Settings(sandbox_url=sandbox.url)
        for platform in available_platforms():
            adapter = make_adapter(platform, settings)
            recorded, state = record_one(adapter, platform)
            chunk = max(1, posts // rounds)
            rates, bares = [], []
            for r in range(rounds):
                rates.append(through_adapter(adapter, platform, chunk, 1 + r * chunk))
                bares.append(floor(recorded, state, chunk, 1 + r * chunk))
            rows.append(
                (platform, statistics.median(rates), statistics.median(bares), len(recorded))
            )
            adapter.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="posts per platform and loop")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()
    rows = run(args.posts, args.rounds)
    print(
        f"{args.posts} posts per platform and side in {args.rounds} alternating rounds "
        "(median), in-process sandbox, no latency\n"
    )
    print(f"{'platform':<10} {'req/post':>8} {'adapter/s':>10} {'floor/s':>9} {'ratio':>6}")
    for platform, rate, bare, per_post in rows:
        print(f"{platform:<10} {per_post:>8} {rate:>10.0f} {bare:>9.0f} {rate / bare:>6.2f}")


if __name__ == "__main__":
    main()
