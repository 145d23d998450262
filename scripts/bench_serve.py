"""Load figures for `noema serve`: many concurrent streaming clients, and a client killed
mid-stream.

    python scripts/bench_serve.py                           # noema-tiny on cpu, 50 clients
    python scripts/bench_serve.py --clients 50 --max-tokens 32 --device cuda
    python scripts/bench_serve.py --url http://gpu-box:8000 --api-key KEY   # a running server

Without --url it starts the server in this process (uvicorn on a free loopback port) over an
engine that counts forwards, so it can say how many forwards ran after a client vanished.
Part 1: N clients stream /v1/chat/completions at once; one generation runs at a time, so
most wait in the queue. Every request must end with [DONE]; the script reports the total
time and the p50/p95 latency (request sent -> [DONE]) and time to the first block.
Part 2: a client starts a long Noema stream, reads a few forwards and closes the socket; the
script reports how long the engine took to be free and how many forwards it ran meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import threading
import time

import httpx

QUESTION = [{"role": "user", "content": "Solve 3x + 5 = 20 for x."}]


class CountingEngine:
    """An engine that notes each forward and whether its job's cancel was already set."""

    def __init__(self, engine) -> None:
        self.engine, self.info, self.tokenizer = engine, engine.info, engine.tokenizer
        self.after_cancel: list[int] = []
        self.ended_at = 0.0

    def stream(self, messages, settings, cancel=None):
        from noema_core.decoding.events import BlockUpdated

        after = 0
        try:
            for event in self.engine.stream(messages, settings, cancel):
                if isinstance(event, BlockUpdated) and cancel is not None and cancel.is_set():
                    after += 1
                yield event
        finally:
            self.after_cancel.append(after)
            self.ended_at = time.perf_counter()


def start_server(model: str, device: str):
    import uvicorn

    from noema_core.engine import Engine
    from noema_server.app import ServerState, create_app

    engine = CountingEngine(Engine.load(model, device=device))
    state = ServerState(model)
    state.loaded(engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", engine, server


async def one_client(http: httpx.AsyncClient, body: dict) -> dict:
    sent = time.perf_counter()
    first = None
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return {"ok": False, "why": f"HTTP {response.status_code}: {await response.aread()}"}
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                return {"ok": True, "latency": time.perf_counter() - sent,
                        "first": (first or time.perf_counter()) - sent}
            chunk = json.loads(data)
            if "error" in chunk:
                return {"ok": False, "why": chunk["error"]["message"]}
            if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                first = time.perf_counter()
    return {"ok": False, "why": "the stream ended without [DONE]"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def concurrent(url: str, headers: dict, clients: int, body: dict) -> dict:
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=httpx.Timeout(None, connect=10)) as http:
        started = time.perf_counter()
        results = await asyncio.gather(*(one_client(http, body) for _ in range(clients)))
        total = time.perf_counter() - started
    done = [r for r in results if r["ok"]]
    latencies = [r["latency"] for r in done]
    report = {"clients": clients, "completed": len(done), "lost": clients - len(done),
              "total_s": round(total, 2)}
    if latencies:
        report.update(p50_s=round(statistics.median(latencies), 2),
                      p95_s=round(percentile(latencies, 0.95), 2),
                      first_block_p50_s=round(statistics.median(r["first"] for r in done), 2),
                      requests_per_s=round(len(done) / total, 2))
    failures = [r["why"] for r in results if not r["ok"]]
    if failures:
        report["first_failure"] = failures[0]
    return report


def kill_mid_stream(url: str, headers: dict, engine: CountingEngine | None) -> dict:
    body = {"messages": QUESTION, "max_tokens": 1024, "eos_early_stop": False}
    stamps = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http, \
            http.stream("POST", "/v1/noema/stream", json=body) as response:
        if response.status_code != 200:
            raise SystemExit(f"error: the long stream was refused: {response.read().decode()}")
        for line in response.iter_lines():
            if line.startswith("data: ") and '"block_updated"' in line:
                stamps.append(time.perf_counter())
                if len(stamps) == 12:
                    break
        killed = time.perf_counter()
    # the with-block closed the socket: the client is gone
    forward = statistics.median(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    while httpx.get(url + "/health", timeout=10).json().get("busy"):
        time.sleep(0.005)
    freed = time.perf_counter()
    report = {"forward_ms": round(forward * 1000, 1),
              "engine_free_after_ms": round((freed - killed) * 1000, 1)}
    if engine is not None:
        report["engine_stopped_after_ms"] = round((engine.ended_at - killed) * 1000, 1)
        report["forwards_after_disconnect"] = engine.after_cancel[-1]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running noema serve (default: start one here)")
    parser.add_argument("--api-key")
    parser.add_argument("--model", default="noema-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--mode", default="s", choices=["q", "s", "ar"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    engine = server = None
    url = args.url
    if url is None:
        url, engine, server = start_server(args.model, args.device)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    body = {"messages": QUESTION, "stream": True, "max_tokens": args.max_tokens,
            "temperature": 0, "mode": args.mode}
    report = {"model": args.model if args.url is None else url, "device": args.device,
              "mode": args.mode, "max_tokens": args.max_tokens}
    report["concurrent"] = asyncio.run(concurrent(url, headers, args.clients, body))
    report["killed_client"] = kill_mid_stream(url, headers, engine)
    if server is not None:
        server.should_exit = True
    if args.json:
        print(json.dumps(report))
    else:
        c, k = report["concurrent"], report["killed_client"]
        print(f"{c['clients']} concurrent streaming clients ({args.model}, {args.device}, "
              f"mode {args.mode}, max_tokens {args.max_tokens}): {c['completed']} completed, "
              f"{c['lost']} lost, total {c['total_s']} s, latency p50 {c.get('p50_s')} s, "
              f"p95 {c.get('p95_s')} s, first block p50 {c.get('first_block_p50_s')} s")
        print(f"client killed mid-stream: engine free {k['engine_free_after_ms']} ms later "
              f"(one forward: {k['forward_ms']} ms), forwards run after the disconnect: "
              f"{k.get('forwards_after_disconnect', 'n/a')}")
    return 0 if report["concurrent"]["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
