"""``dissem sandbox``: run the local stand-in for every platform's API."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click


@click.command("sandbox")
@click.option("--port", default=8765, show_default=True, type=int, help="0 picks a free port")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option(
    "--faults",
    default="",
    help="e.g. 'latency_ms=50,error_rate=0.1,throttle_rate=0.05,drop_rate=0.02,seed=1'; "
    "prefix a key with a platform ('x.throttle_rate=0.2') to apply it there only",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="keep published posts in this JSON file across restarts",
)
@click.option(
    "--audiences",
    default="on",
    show_default=True,
    help="engagement by local hour and weekday: on (a seeded audience per account), off, "
    "'seed=7,timezone=Asia/Jakarta,noise=0.2', or a JSON file (see dissem.sandbox.audience)",
)
def sandbox(port: int, host: str, faults: str, state_path: Path | None, audiences: str) -> None:
    """Serve a stand-in for all eight platforms on one local port.

    Point dissem at it with DISSEM_SANDBOX_URL; open the printed URL to see the feed.
    """
    from dissem.sandbox import parse_faults, start_sandbox
    from dissem.sandbox.audience import parse_audiences

    try:
        plan = parse_faults(faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from None
    try:
        chosen = parse_audiences(audiences)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--audiences") from None
    try:
        running = start_sandbox(port, host=host, faults=plan, state_path=state_path)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    running.state.audiences = chosen

    def stop(signum: int, frame: FrameType | None) -> None:
        running.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"dissem sandbox: {running.url}  (feed at {running.url}/)")
    click.echo(f"use it with: export DISSEM_SANDBOX_URL={running.url}")
    for name in sorted(running.env.faults.per_platform) or []:
        click.echo(f"faults for {name}: {running.env.faults.rates(name)}")
    if any(vars(plan.default).values()):
        click.echo(f"faults: {plan.default}")
    running.wait()
    running.stop()
    click.echo("dissem sandbox: stopped")
