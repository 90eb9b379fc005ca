"""``python -m githubsim --port 9000 --git-port 9443 --state-dir var/githubsim``: the simulator, standalone.

Keys, CA, repositories, installations and tokens stay in the state directory across restarts, so a server
configured with the App key and CA once keeps working (``--reset`` forgets everything but the keys).
Faults and call counts start empty. Seed it through the control API (``githubsim.client.SimulatorClient``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from githubsim.control import config
from githubsim.simulator import GitHubSimulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m githubsim", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=9000, help="REST API + OIDC issuer + control API (http)")
    parser.add_argument("--git-port", type=int, default=9443, help="git smart HTTP (https)")
    parser.add_argument("--web-port", type=int, default=0, help="the web host: user authorization (http; 0: any)")
    parser.add_argument("--state-dir", type=Path, default=Path("var/githubsim"))
    parser.add_argument("--reset", action="store_true", help="forget installations, repositories and tokens first")
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="keep installations, repositories and tokens in memory only (keys and CA stay in --state-dir): "
        "a load test mints far more tokens than a state file should be rewritten for",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="answer every API call after this many ms")
    parser.add_argument("--fail-one-in", type=int, default=0, help="fail one API call in K (0: none)")
    parser.add_argument("--fail-status", type=int, default=502, help="the status of those failures (500-504)")
    parser.add_argument("--rate-limit", type=int, default=None, help="the hourly rate limit of each credential")
    args = parser.parse_args(argv)

    sim = GitHubSimulator(args.state_dir, persistent=not args.ephemeral)
    if args.reset:
        sim.reset()
    try:
        sim.set_load(
            latency_ms=args.latency_ms,
            fail_one_in=args.fail_one_in,
            fail_status=args.fail_status,
            rate_limit=args.rate_limit,
        )
    except ValueError as problem:
        parser.error(str(problem))
    sim.start(port=args.port, git_port=args.git_port, web_port=args.web_port)
    settings = config(sim)
    (args.state_dir / "config.json").write_text(json.dumps(settings, indent=2) + "\n")
    for name, value in settings.items():
        if name != "client_secret":  # in config.json only, like the App key (a file, never printed)
            print(f"{name}: {value}", flush=True)
    print("githubsim ready", flush=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    sim.stop()
    print("githubsim stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
