"""Request bodies: OpenAI's chat-completion fields plus Noema's own, into `DecodingSettings`.

`temperature`, `top_p`, `max_tokens` (or `max_completion_tokens`) and `seed` map onto the
decoding settings; Noema's own fields (`mode`, `threshold`, `editing_threshold`,
`block_length`, ...) ride along as extra body fields (`extra_body=` in the openai client).
Ranges are checked by `DecodingSettings` itself, so a bad value gets the CLI's message. OpenAI
fields Noema has no use for are accepted and ignored; any other unknown field is refused, so a
misspelt `treshold` is not silently dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from noema_core.decoding.settings import DecodingSettings, Mode, ModelPresets
from noema_core.errors import SettingsError
from noema_server.errors import ApiError

SEED_MAX = 2**64 - 1  # what torch.Generator.manual_seed accepts, as `noema ask --seed`
NOEMA_FIELDS = ("mode", "threshold", "editing_threshold", "block_length", "gen_length",
                "max_post_steps", "top_k", "steps", "num_to_transfer", "eos_early_stop",
                "stop_at_role_end", "attention")
# OpenAI parameters a client may send that change nothing here.
IGNORED_OPENAI_FIELDS = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs", "user",
    "stop", "response_format", "service_tier", "store", "metadata", "modalities",
    "reasoning_effort", "parallel_tool_calls", "prompt_cache_key", "safety_identifier",
    "verbosity", "prediction", "web_search_options"})


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def as_engine_message(self) -> dict[str, str]:
        text = (self.content if isinstance(self.content, str)
                else "".join(part.text for part in self.content))
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: StrictBool = False


class ChatRequest(BaseModel):
    """`POST /v1/chat/completions` and `POST /v1/noema/stream` share this body."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    model: str | None = None  # OpenAI requires it; Noema serves one model, so it may be left out
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt = 1
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: StrictInt | None = None
    max_completion_tokens: StrictInt | None = None
    seed: StrictInt | None = None
    # Noema's own
    mode: str = "q"
    threshold: float | None = None
    editing_threshold: float | None = None
    block_length: StrictInt | None = None
    gen_length: StrictInt | None = None
    max_post_steps: StrictInt | None = None
    top_k: StrictInt | None = None
    steps: StrictInt | None = None
    num_to_transfer: StrictInt | None = None
    eos_early_stop: StrictBool | None = None
    attention: str | None = None  # "block-causal" or "card"
    stop_at_role_end: StrictBool | None = None
    attention: str | None = None  # block-causal or card
    check: StrictBool = False  # Noema stream: the checker's verdict as the last event

    @model_validator(mode="after")
    def _no_unknown_fields(self) -> ChatRequest:
        unknown = sorted(set(self.model_extra or {}) - IGNORED_OPENAI_FIELDS)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}: Noema's own fields are "
                             f"{', '.join(NOEMA_FIELDS)}")
        return self

    def engine_messages(self) -> list[dict[str, str]]:
        return [message.as_engine_message() for message in self.messages]

    def settings(self, presets: ModelPresets) -> DecodingSettings:
        """The decoding settings this body asks for; `ApiError` 400 with the CLI's message."""
        if self.n != 1:
            raise ApiError(400, f"n={self.n} is not supported: Noema returns one choice; send "
                                f"n=1", param="n")
        lengths = {value for value in (self.max_tokens, self.max_completion_tokens,
                                       self.gen_length) if value is not None}
        if len(lengths) > 1:
            raise ApiError(400, "max_tokens, max_completion_tokens and gen_length disagree: "
                                "give one of them", param="max_tokens")
        if self.seed is not None and not 0 <= self.seed <= SEED_MAX:
            raise ApiError(400, f"seed={self.seed} is out of range: choose a value in "
                                f"[0, {SEED_MAX}]", param="seed")
        if self.mode.lower() not in {mode.value for mode in Mode}:
            raise ApiError(400, f"mode={self.mode!r} is unknown: choose q, s or ar", param="mode")
        overrides: dict[str, Any] = {name: getattr(self, name) for name in NOEMA_FIELDS[1:]}
        overrides.update(temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                         gen_length=next(iter(lengths), None))
        try:
            return DecodingSettings.for_mode(self.mode, presets=presets, **overrides)
        except SettingsError as err:
            param, _, rest = str(err).partition("=")
            given = next((name for name in ("max_tokens", "max_completion_tokens")
                          if getattr(self, name) is not None), None)
            if param == "gen_length" and given:  # named as the client sent it
                param = given
            raise ApiError(400, f"{param}={rest}", param=param) from None
