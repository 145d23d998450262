"""Verifier-guided retry: when the checker contradicts an answer, decode again.

A diffusion sampler has cheap, meaningful knobs for a second opinion. Writing one token per
forward, left to right (AR mode), sees every earlier token before it commits the next: it
does not box an answer before the steps that lead to it, nor carry a digit slip committed in
parallel. Stricter unmasking thresholds commit fewer slots per forward, and a small
temperature with another seed explores other tokens. The plan tries AR first (on noema-tiny's
natural-phrasing set it gets right 9 of the 26 questions Q-mode gets wrong), then the stricter
thresholds, then seeds, and stops at the first answer the checker verifies. A contradiction
triggers a retry, and so does an answer the checker cannot read to a question it can check (a
garbled reply); any other "could not check" says nothing about the answer, so it is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from noema_core.decoding.events import GenerationResult, GenerationStats
from noema_core.decoding.settings import PRESETS, DecodingSettings, Mode

T = TypeVar("T")
MAX_RETRIES = 8  # the most retries `ask --retry` and the chat's auto-retry take
# Retries `noema ask` and the chat make unasked: one, the AR decoding. It costs nothing
# until the checker contradicts an answer, and then it is the try most likely to fix it.
DEFAULT_RETRIES = 1
RETRY_TEMPERATURE = 0.3  # enough to change a wrong token, little enough to stay on topic
STRICT_SHARE = 0.5  # a stricter threshold closes this share of the gap to 1


@dataclass(frozen=True)
class Attempt:
    """One decoding and its verdict; `how` says what this try changed."""

    how: str
    settings: DecodingSettings
    result: GenerationResult
    verdict: Any  # noema_core.verify.Verdict

    @property
    def verified(self) -> bool:
        return self.verdict.status == "verified"


def retry_plan(settings: DecodingSettings, tries: int) -> list[tuple[str, DecodingSettings]]:
    """The settings for the first decoding and up to `tries` retries, in order."""
    plan = [("as asked", settings)]
    if tries <= 0:
        return plan
    if settings.mode is not Mode.AR:
        plan.append(("one token per forward",
                     settings.replace(mode=Mode.AR, **PRESETS[Mode.AR])))  # type: ignore[arg-type]
    # Q-mode even when AR was asked: AR ignores thresholds, so a stricter AR decoding would be
    # the same answer again; Q at AR's thresholds (1.0) commits the most confident slot instead.
    strict = settings.replace(
        mode=Mode.QUALITY,
        threshold=round(settings.threshold + STRICT_SHARE * (1 - settings.threshold), 4),
        editing_threshold=round(settings.editing_threshold
                                + STRICT_SHARE * (1 - settings.editing_threshold), 4))
    plan.append(("stricter thresholds", strict))
    base_seed = settings.seed or 0
    for n in range(1, tries):
        plan.append((f"seed {base_seed + n}, temperature {RETRY_TEMPERATURE:g}",
                     strict.replace(temperature=max(settings.temperature, RETRY_TEMPERATURE),
                                    seed=base_seed + n)))
    return plan[:tries + 1]


def decode_until_verified(generate: Callable[..., GenerationResult],
                          check: Callable[..., Any], messages: Sequence[dict[str, str]],
                          settings: DecodingSettings, question: str, tries: int,
                          cancel: threading.Event | None = None) -> list[Attempt]:
    """Decode, check, and while the checker contradicts, retry by `retry_plan`. Returns every
    attempt in order; the answer to show is `chosen(attempts)`."""
    attempts: list[Attempt] = []
    for how, each in retry_plan(settings, tries):
        result = generate(messages, each, cancel)
        verdict = check(result.text, question=question)
        attempts.append(Attempt(how, each, result, verdict))
        if not should_retry(verdict, result.cancelled):
            break
    return attempts


def retry_in_batches(decode: Callable[[list[int], DecodingSettings], list[GenerationResult]],
                     tries: dict[int, list[Attempt]], check: Callable[[int, str], Any],
                     plan: Sequence[tuple[str, DecodingSettings]],
                     cancel: threading.Event | None = None,
                     settled: Callable[[int], None] | None = None) -> None:
    """`decode_until_verified` for many answers at once, in place in `tries` (each answer's
    tries so far, by key): each step of `plan` decodes, as one batch (`decode(keys,
    settings)`: a result per key, in order), the answers whose last try earns a retry, and
    appends every complete result with its verdict (`check(key, text)`); `settled(key)`
    hears an answer as soon as it needs no more tries. A cancelled result is dropped: the
    answer keeps the tries it finished."""
    for how, each in plan:
        redo = sorted(key for key, attempts in tries.items()
                      if should_retry(attempts[-1].verdict, attempts[-1].result.cancelled))
        if not redo or (cancel is not None and cancel.is_set()):
            return
        for key, result in zip(redo, decode(redo, each), strict=False):
            if result.cancelled:
                continue
            verdict = check(key, result.text)
            tries[key].append(Attempt(how, each, result, verdict))
            if settled is not None and not should_retry(verdict):
                settled(key)


def all_decodings(results: Sequence[GenerationResult]) -> GenerationStats:
    """One answer's cost: every decoding it took (its first one's stats when there was one)."""
    if len(results) == 1:
        return results[0].stats
    each = [r.stats for r in results]
    return GenerationStats(each[0].prompt_tokens, sum(s.new_tokens for s in each),
                           sum(s.forwards for s in each), sum(s.seconds for s in each),
                           sum(s.edits for s in each))


def should_retry(verdict: Any, cancelled: bool = False) -> bool:
    """A complete answer earns another decoding when the checker contradicts it, or when the
    checker can check the question but cannot read the answer (a garbled `\\frac{102}`).
    `verdict` is a `Verdict` or its plain dict; any other "could not check" says nothing
    about the answer, so it is kept."""
    if cancelled:
        return False
    return _field(verdict, "status") == "contradicted" or unreadable_answer(verdict)


def unreadable_answer(verdict: Any) -> bool:
    """Whether the checker read the question (independent mode) but not the answer."""
    return (_field(verdict, "status") == "unverifiable" and _field(verdict, "method") == "parse"
            and _field(verdict, "mode") == "independent")


def _field(verdict: Any, name: str) -> str:
    value = verdict.get(name) if isinstance(verdict, dict) else getattr(verdict, name, "")
    return str(value or "")


def chosen(attempts: Sequence[Attempt]) -> Attempt:
    """The attempt whose answer to show (see `choose`); a lone one (maybe never checked)."""
    if len(attempts) == 1:
        return attempts[0]
    return choose(attempts, lambda attempt: attempt.verdict.status)


def choose(tries: Sequence[T], status: Callable[[T], str]) -> T:
    """The first verified try, else the last one not contradicted, else the first (every try
    contradicted: the answer as asked)."""
    for each in tries:
        if status(each) == "verified":
            return each
    for each in reversed(tries):
        if status(each) != "contradicted":
            return each
    return tries[0]
