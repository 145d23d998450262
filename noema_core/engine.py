"""The engine's public face: load a model once, then stream decoding events for chat turns.

UIs (the Textual app, `noema ask`, `noema bench`, `noema eval`) talk to the engine only
through this module: settings in, a stream of `DecodingEvent`s out. The engine keeps the
KV cache of the last prompt so a follow-up chat turn reuses every block it shares.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from noema_core.decoding.events import DecodingEvent, GenerationFinished, GenerationResult
from noema_core.decoding.settings import DecodingSettings, Mode, ModelPresets

if TYPE_CHECKING:
    from noema_core.model import NoemaModel
    from noema_core.tokenizer import NoemaTokenizer

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
ProgressCallback = Callable[[str, float | None], None]  # (what is happening, fraction done or None)

DEFAULT_MODEL = "noema-tiny"


@dataclass(frozen=True)
class ModelInfo:
    """What a UI shows about the loaded model."""

    name: str
    device: str
    dtype: str
    quant: str
    parameters: int
    resident_bytes: int
    random_weights: bool = False
    max_context: int = 0
    # The checkpoint's own Q/S thresholds (generation_config.json), over the card's presets.
    decoding_presets: ModelPresets = field(default_factory=dict)
    # How many turns of one conversation the model was trained on (generation_config.json
    # `max_turns_trained`); 0 when the checkpoint does not say. Later turns may go wrong.
    max_turns_trained: int = 0
    # How many earlier exchanges of a conversation the model reads (generation_config.json
    # `history_exchanges`); None: all of them. See `recent_exchanges`.
    history_exchanges: int | None = None


def recent_exchanges(messages: Sequence[Message], exchanges: int | None) -> list[Message]:
    """`messages` as the model reads them: leading system messages, the last `exchanges`
    earlier exchanges (a user message and the replies after it) and the new question; None
    keeps everything. A model trained only on conversations whose earlier questions are
    unrelated to the new one (noema-tiny's curriculum) gains nothing from them and loses
    accuracy: they are context it learned to ignore, imperfectly."""
    if exchanges is None:
        return list(messages)
    head = 0
    while head < len(messages) and messages[head]["role"] == "system":
        head += 1
    starts = [i for i in range(head, len(messages)) if messages[i]["role"] == "user"]
    # starts[-1] is the new question; keep `exchanges` user turns before it.
    first = starts[max(len(starts) - 1 - exchanges, 0)] if starts else head
    return [*messages[:head], *messages[first:]]


def parse_history_exchanges(text: str) -> int | None:
    """`--history` / `/set history` values: "2" -> 2, "all" -> None (every earlier exchange);
    SettingsError otherwise."""
    from noema_core.errors import SettingsError

    word = text.strip().lower()
    if word == "all":
        return None
    if word.isdigit() and word.isascii():
        return int(word)
    raise SettingsError(f"history {text.strip()!r} is not a number of exchanges: give 0, 1, "
                        "2, ... or all")


class Engine:
    """A loaded model + tokenizer + sampler. Not thread-safe: one generation at a time."""

    def __init__(self, model: NoemaModel, tokenizer: NoemaTokenizer, info: ModelInfo, *,
                 compile: bool | None = None,
                 notice: Callable[[str], None] | None = None) -> None:
        """`compile`: decode through the compiled block forward (see `Sampler`; None: where
        it is the default, on CUDA); `notice` hears the one line saying so if compiling fails
        and decoding goes on eagerly. `notice` is an attribute a UI may also set after the
        load (compiling happens at the first decode, not during the load)."""
        from noema_core.decoding.batch import BatchSampler
        from noema_core.decoding.sampler import Sampler

        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.notice = notice
        self.sampler = Sampler(model, mask_id=tokenizer.mask_id, eos_ids=[tokenizer.eos_id],
                               role_end_id=tokenizer.turn_end_id, compile=compile,
                               notice=self._relay_notice)
        self.batch_sampler = BatchSampler(self.sampler)

    @classmethod
    def load(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "auto",
        dtype: str = "auto",
        quant: str = "none",
        progress: ProgressCallback | None = None,
        compile: bool | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> Engine:
        """Load `model` (bundled name, local directory or hub id). Raises `ModelLoadError`s."""
        from noema_core.errors import ModelLoadError
        from noema_core.loading import load_model

        loaded = load_model(model, device=device, dtype=dtype, quant=quant, progress=progress)
        if loaded.tokenizer is None:
            raise ModelLoadError(f"{model} has random weights and no tokenizer: it is for "
                                 f"`noema bench` only; chat with a real checkpoint")
        return cls(loaded.model, loaded.tokenizer, loaded.info, compile=compile, notice=notice)

    def _relay_notice(self, line: str) -> None:
        if self.notice is not None:
            self.notice(line)

    def set_history_exchanges(self, exchanges: int | None) -> None:
        """Send the model the last `exchanges` earlier exchanges of a conversation (None:
        all) instead of what its checkpoint declares; `info` says so from now on."""
        if exchanges is not None and exchanges < 0:
            raise ValueError(f"history_exchanges must be >= 0 or None, not {exchanges}")
        self.info = dataclasses.replace(self.info, history_exchanges=exchanges)

    def settings_for(self, mode: Mode | str, **overrides: object) -> DecodingSettings:
        """The preset for `mode` as this model ships it, with any parameters overridden."""
        return DecodingSettings.for_mode(mode, presets=self.info.decoding_presets, **overrides)

    def stream(
        self,
        messages: Sequence[Message],
        settings: DecodingSettings,
        cancel: threading.Event | None = None,
        *,
        use_cache: bool = True,
    ) -> Iterator[DecodingEvent]:
        """Decode a reply to `messages`, yielding events; the last is `GenerationFinished`.

        Setting `cancel` stops between forwards; the final event then carries the partial
        result with `cancelled=True`. Raises `PromptTooLongError` before any forward when the
        prompt plus `settings.gen_length` exceeds the context.
        """
        yield from self._decode(messages, settings, cancel, use_cache=use_cache, stream=True)

    def generate(
        self,
        messages: Sequence[Message],
        settings: DecodingSettings,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """The reply alone, decoded without per-forward snapshots (nobody draws them: the
        sampler's quiet loop, the same tokens as `stream`'s)."""
        for event in self._decode(messages, settings, cancel, stream=False):
            if isinstance(event, GenerationFinished):
                return event.result
        raise RuntimeError("sampler ended without a GenerationFinished event")  # a bug, not input

    def _decode(self, messages: Sequence[Message], settings: DecodingSettings,
                cancel: threading.Event | None, *, stream: bool,
                use_cache: bool = True) -> Iterator[DecodingEvent]:
        yield from self.sampler.generate(
            self.tokenizer.encode_chat(recent_exchanges(messages, self.info.history_exchanges)),
            settings,
            cancel=cancel,
            use_cache=use_cache,
            detokenize=self.tokenizer.decode_piece,
            decode=self.tokenizer.decode,
            stream=stream,
        )

    def generate_batch(
        self,
        conversations: Sequence[Sequence[Message]],
        settings: DecodingSettings,
        cancel: threading.Event | None = None,
        *,
        batch_size: int | None = None,
        on_result: Callable[[int, GenerationResult], None] | None = None,
    ) -> list[GenerationResult]:
        """One reply per conversation, in order, decoding `batch_size` (default: all) at once
        (`BatchSampler`: greedy replies equal `generate`'s). `on_result(index, result)` hears
        each reply as it finishes; after `cancel`, unfinished ones come back `cancelled`."""
        window = self.info.history_exchanges
        prompts = [self.tokenizer.encode_chat(recent_exchanges(messages, window))
                   for messages in conversations]
        return self.batch_sampler.generate_batch(prompts, settings, cancel, width=batch_size,
                                                 decode=self.tokenizer.decode,
                                                 on_result=on_result)
