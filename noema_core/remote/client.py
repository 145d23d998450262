"""`RemoteEngine`: an engine on the other end of `noema serve` (or any OpenAI-style server).

It has what the chat app and `noema ask` use of a local `Engine`, `info`, `settings_for` and
`stream`, so both run unchanged over `--server URL`. Against `noema serve` it reads the Noema
stream and yields the very events the server's engine yielded, so the live block is drawn as
it is locally. Against a server that speaks only the OpenAI API (SGLang serving LLaDA2, say)
it yields one `BlockFinished` per streamed chunk and no per-forward snapshots, and sends only
the settings that API has (`OPENAI_SETTINGS`).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import httpx

from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    DecodingEvent,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)
from noema_core.decoding.settings import DecodingSettings, Mode, parse_model_presets
from noema_core.engine import Message, ModelInfo, ProgressCallback
from noema_core.errors import ModelLoadError, NoemaError, SettingsError
from noema_core.remote.wire import WireError, event_from_wire

# What an OpenAI chat-completion request can carry; the rest is fixed when such a server starts.
OPENAI_SETTINGS = frozenset({"temperature", "top_p", "gen_length", "seed"})
ALL_SETTINGS = frozenset(f.name for f in fields(DecodingSettings))
LOADING_POLL_SECONDS = 1.0
CANCEL_POLL_SECONDS = 0.05


def limits_note(engine: RemoteEngine) -> str:
    """What a client cannot show or send to this server ('' for noema serve)."""
    if engine.per_forward:
        return ""
    return (f"{engine.url} speaks only the OpenAI API: per-forward detail is not available "
            f"from this server, so blocks appear as they finish; only "
            f"{', '.join(sorted(OPENAI_SETTINGS))} are sent (the server fixed the rest when it "
            f"started)")


def unsendable(engine: RemoteEngine, overrides: dict[str, object]) -> list[str]:
    """The overridden settings this server will not receive, in the caller's order."""
    return [name for name, value in overrides.items()
            if value is not None and name not in engine.sendable_settings]


class ServerUnreachableError(ModelLoadError):
    """The server could not be reached, refused the key, or serves no model (exit code 3)."""


class RemoteRequestError(NoemaError):
    """The server refused a request or failed while answering it."""


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` of each server-sent event, in order; comments (pings, queue notes) skipped."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value.removeprefix(" "))
    if data:
        yield "\n".join(data)


def error_message(response: httpx.Response) -> str:
    """The one-line message of an error response (OpenAI's shape, or whatever it sent)."""
    try:
        body = json.loads(response.read())
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)
    except (ValueError, AttributeError, httpx.HTTPError):
        pass
    return f"HTTP {response.status_code} {response.reason_phrase}"


@dataclass
class RemoteEngine:
    """A model served at `url`; `per_forward` is False for an OpenAI-only server."""

    url: str
    model_id: str
    info: ModelInfo
    per_forward: bool
    api_key: str | None = None
    timeout: float = 60.0  # seconds without a byte (noema serve pings every 15 s)

    @property
    def sendable_settings(self) -> frozenset[str]:
        """The decoding settings this server takes per request."""
        return ALL_SETTINGS if self.per_forward else OPENAI_SETTINGS

    @property
    def limits_note(self) -> str:
        return limits_note(self)

    # -- connecting ---------------------------------------------------------------------
    @classmethod
    def connect(cls, url: str, *, api_key: str | None = None,
                progress: ProgressCallback | None = None,
                timeout: float = 60.0) -> RemoteEngine:
        """Find out what `url` serves, waiting while it loads. Raises `ServerUnreachableError`."""
        url = url.rstrip("/").removesuffix("/v1")
        if urlsplit(url).scheme not in {"http", "https"}:
            raise ServerUnreachableError(f"--server {url} is not an http(s) URL: pass one such "
                                         f"as http://127.0.0.1:8000")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as http:
            while True:
                info = cls._get(http, url, "/v1/noema/info")
                if info.status_code != 503:
                    break
                if progress is not None:
                    progress(f"{url} is loading its model: {error_message(info)}", None)
                if "model_failed" in info.text:
                    raise ServerUnreachableError(f"{url}: {error_message(info)}")
                time.sleep(LOADING_POLL_SECONDS)
            if info.status_code == 200:
                return cls._from_noema(url, info.json(), api_key, timeout)
            if info.status_code in (401, 403):
                raise ServerUnreachableError(f"{url} refused the API key "
                                             f"({error_message(info)}): pass --api-key")
            models = cls._get(http, url, "/v1/models")  # not noema serve: an OpenAI server?
            if models.status_code != 200:
                raise ServerUnreachableError(f"{url} answered /v1/models with "
                                             f"{error_message(models)}: is it an OpenAI-"
                                             f"compatible server?")
            try:
                model_id = str(models.json()["data"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                raise ServerUnreachableError(f"{url} lists no model at /v1/models") from None
        netloc = urlsplit(url).netloc
        info_ = ModelInfo(name=model_id, device=f"server {netloc}", dtype="unknown",
                          quant="unknown", parameters=0, resident_bytes=0)
        return cls(url, model_id, info_, per_forward=False, api_key=api_key, timeout=timeout)

    @staticmethod
    def _get(http: httpx.Client, url: str, path: str) -> httpx.Response:
        try:
            return http.get(path)
        except httpx.HTTPError as err:
            raise ServerUnreachableError(f"could not reach {url} ({err}): start it with noema "
                                         f"serve, or check --server") from None

    @classmethod
    def _from_noema(cls, url: str, body: dict[str, Any], api_key: str | None,
                    timeout: float) -> RemoteEngine:
        raw = dict(body["info"])
        raw["decoding_presets"] = parse_model_presets(raw.get("decoding_presets") or {})
        known = {f.name for f in fields(ModelInfo)}
        raw["device"] = f"{raw.get('device', '?')} at {urlsplit(url).netloc}"
        raw["name"] = str(body["id"])  # as the server lists it, not its local path
        # Counts the app compares with: a garbled one from the server is as if it were absent.
        for key, absent in (("max_turns_trained", 0), ("history_exchanges", None)):
            value = raw.get(key)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                raw[key] = absent
        info = ModelInfo(**{k: v for k, v in raw.items() if k in known})
        return cls(url, str(body["id"]), info, per_forward=True, api_key=api_key,
                   timeout=timeout)

    # -- decoding -----------------------------------------------------------------------
    def settings_for(self, mode: Mode | str, **overrides: object) -> DecodingSettings:
        return DecodingSettings.for_mode(mode, presets=self.info.decoding_presets, **overrides)

    def stream(self, messages: Sequence[Message], settings: DecodingSettings,
               cancel: threading.Event | None = None) -> Iterator[DecodingEvent]:
        """Decode on the server, yielding events; the last is `GenerationFinished`.

        Setting `cancel` closes the connection, which stops the server's generation after its
        forward in progress; the final event then carries the part received so far."""
        cancel = cancel or threading.Event()
        body: dict[str, Any] = {"model": self.model_id, "messages": list(messages),
                                "stream": True}
        if self.per_forward:
            body.update(self.noema_fields(settings))
            path = "/v1/noema/stream"
        else:
            body.update(max_tokens=settings.gen_length, temperature=settings.temperature,
                        top_p=settings.top_p, stream_options={"include_usage": True})
            if settings.seed is not None:
                body["seed"] = settings.seed
            path = "/v1/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        partial, finished = _Partial(), threading.Event()
        with httpx.Client(base_url=self.url, headers=headers,
                          timeout=httpx.Timeout(self.timeout, connect=10.0)) as http:
            try:
                with http.stream("POST", path, json=body) as response:
                    if response.status_code != 200:
                        raise self._refused(response)
                    closer = threading.Thread(target=_close_on, daemon=True,
                                              args=(cancel, finished, response))
                    closer.start()
                    read = self._noema_events if self.per_forward else self._openai_events
                    for event in read(sse_data(response.iter_lines()), partial):
                        yield event
                        if isinstance(event, GenerationFinished):
                            return
                        if cancel.is_set():
                            break
            except NoemaError:
                raise
            except (httpx.HTTPError, httpx.StreamError, OSError) as err:
                if not cancel.is_set():  # else: the closer cut the stream, as asked
                    raise RemoteRequestError(f"lost the connection to {self.url} ({err}): "
                                             f"check the server, then retry") from None
            finally:
                finished.set()
        yield GenerationFinished(partial.result(cancelled=True))

    @staticmethod
    def noema_fields(settings: DecodingSettings) -> dict[str, Any]:
        values = {f.name: getattr(settings, f.name) for f in fields(DecodingSettings)}
        return {k: v.value if isinstance(v, Enum) else v  # mode, attention: by name
                for k, v in values.items() if v is not None}

    def _refused(self, response: httpx.Response) -> NoemaError:
        message = error_message(response)
        if response.status_code == 400:
            return SettingsError(message)  # exit code 2, as the same mistake made locally
        return RemoteRequestError(f"{self.url}: {message}")

    def _parse(self, data: str) -> dict[str, Any]:
        try:
            obj = json.loads(data)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            raise RemoteRequestError(f"{self.url} sent a stream item that is not a JSON "
                                     f"object ({data[:60]!r}): is it an OpenAI-compatible "
                                     f"server?")
        return obj

    def _noema_events(self, items: Iterator[str], partial: _Partial) -> Iterator[DecodingEvent]:
        for data in items:
            if data == "[DONE]":
                return
            obj = self._parse(data)
            kind = obj.get("type")
            if kind == "error":
                raise RemoteRequestError(f"{self.url}: {obj['error']['message']}")
            if kind in {"queued", "started", "verdict"}:
                continue
            try:
                event = event_from_wire(obj)
            except WireError as err:
                raise RemoteRequestError(f"{self.url} sent {err}: is it the same Noema "
                                         f"version?") from None
            partial.add(event)
            yield event

    def _openai_events(self, items: Iterator[str], partial: _Partial
                       ) -> Iterator[DecodingEvent]:
        finish, used = "eos", {}
        for data in items:
            if data == "[DONE]":
                break
            obj = self._parse(data)
            if "error" in obj:
                error = obj["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise RemoteRequestError(f"{self.url}: {message}")
            used = obj.get("usage") or used
            for choice in obj.get("choices") or ():
                text = (choice.get("delta") or {}).get("content") or ""
                if text:
                    block = BlockFinished(len(partial.blocks), 0, (), text)
                    partial.add(block)
                    yield block
                if choice.get("finish_reason"):
                    finish = "length" if choice["finish_reason"] == "length" else "eos"
        result = partial.result(cancelled=False, finish_reason=finish,
                                prompt_tokens=int(used.get("prompt_tokens", 0)),
                                new_tokens=used.get("completion_tokens"))
        yield GenerationFinished(result)


def _close_on(cancel: threading.Event, finished: threading.Event,
              response: httpx.Response) -> None:
    """Close the response once `cancel` is set, even while the reader waits for a byte (a
    queued request hears only pings): the server then withdraws the job."""
    while not finished.wait(CANCEL_POLL_SECONDS):
        if cancel.is_set():
            with contextlib.suppress(Exception):  # the reader may be closing it too
                response.close()
            return


class _Partial:
    """What has arrived so far, for a result when the stream is cut short."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.blocks: list[BlockFinished] = []
        self.last: BlockUpdated | None = None
        self.forwards = 0

    def add(self, event: DecodingEvent) -> None:
        if isinstance(event, BlockUpdated):
            self.last, self.forwards = event, self.forwards + 1
        elif isinstance(event, BlockFinished):
            self.blocks.append(event)
            self.last = None

    def result(self, *, cancelled: bool, finish_reason: str = "cancelled",
               prompt_tokens: int = 0, new_tokens: int | None = None) -> GenerationResult:
        ids = [t for block in self.blocks for t in block.token_ids]
        text = "".join(block.text for block in self.blocks)
        if self.last is not None:  # the block being decoded: its unmasked slots so far
            slots = [(t, p) for t, p, s in zip(self.last.token_ids, self.last.pieces,
                                                self.last.states, strict=False)
                     if s not in (TokenState.MASKED, TokenState.PROMPT)]
            ids += [t for t, _ in slots]
            text += "".join(p for _, p in slots)
        stats = GenerationStats(prompt_tokens=prompt_tokens,
                                new_tokens=len(ids) if new_tokens is None else int(new_tokens),
                                forwards=self.forwards,
                                seconds=time.perf_counter() - self.started,
                                edits=sum(b.edits for b in self.blocks), blocks=len(self.blocks))
        return GenerationResult(tuple(ids), text, stats, cancelled,
                                "cancelled" if cancelled else finish_reason)
