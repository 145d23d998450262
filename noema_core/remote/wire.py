"""Decoding events as JSON objects, for the Noema stream (`POST /v1/noema/stream`).

Each event is one JSON object whose `type` names its dataclass (`block_updated`,
`block_finished`, `generation_finished`); the other keys are the dataclass's fields, so a
client rebuilds the very objects the engine yielded. The stream also carries `queued` (how
many requests are ahead of this one), `started`, `verdict` and `error` objects.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    DecodingEvent,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)

EVENT_TYPES: dict[type, str] = {
    BlockUpdated: "block_updated",
    BlockFinished: "block_finished",
    GenerationFinished: "generation_finished",
}


class WireError(ValueError):
    """A stream object that is not a well-formed Noema event."""


def event_to_wire(event: DecodingEvent) -> dict[str, Any]:
    """The event as a JSON-ready object: `type` plus its fields (tuples become lists)."""
    kind = EVENT_TYPES[type(event)]
    if isinstance(event, GenerationFinished):
        result = event.result
        fields = {"token_ids": list(result.token_ids), "text": result.text,
                  "cancelled": result.cancelled, "finish_reason": result.finish_reason,
                  "stats": dataclasses.asdict(result.stats)}
        return {"type": kind, **fields}
    fields = dataclasses.asdict(event)
    if isinstance(event, BlockUpdated):
        fields["states"] = [state.value for state in event.states]
        # 4 decimals are plenty to colour a slot and keep a 32-slot frame under 1 kB
        fields["confidences"] = [round(c, 4) if math.isfinite(c) else 0.0
                                 for c in event.confidences]
    return {"type": kind, **{k: list(v) if isinstance(v, tuple) else v
                             for k, v in fields.items()}}


def event_from_wire(obj: dict[str, Any]) -> DecodingEvent:
    """The dataclass `event_to_wire` made. Raises `WireError` for anything else."""
    if not isinstance(obj, dict):
        raise WireError(f"a stream item that is not a JSON object: {str(obj)[:60]}")
    try:
        kind = obj["type"]
        if kind == "block_updated":
            return BlockUpdated(
                block_index=int(obj["block_index"]), forward=int(obj["forward"]),
                token_ids=tuple(int(t) for t in obj["token_ids"]),
                states=tuple(TokenState(s) for s in obj["states"]),
                confidences=tuple(float(c) for c in obj["confidences"]),
                pieces=tuple(str(p) for p in obj.get("pieces", ())),
                edits=int(obj.get("edits", 0)))
        if kind == "block_finished":
            return BlockFinished(
                block_index=int(obj["block_index"]), forwards=int(obj["forwards"]),
                token_ids=tuple(int(t) for t in obj["token_ids"]),
                text=str(obj.get("text", "")), edits=int(obj.get("edits", 0)))
        if kind == "generation_finished":
            known = {f.name for f in dataclasses.fields(GenerationStats)}
            stats = GenerationStats(**{k: v for k, v in obj["stats"].items() if k in known})
            return GenerationFinished(GenerationResult(
                token_ids=tuple(int(t) for t in obj["token_ids"]), text=str(obj["text"]),
                stats=stats, cancelled=bool(obj.get("cancelled", False)),
                finish_reason=str(obj.get("finish_reason", "eos"))))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise WireError(f"a malformed {obj.get('type', 'untyped')!r} event ({err})") from None
    raise WireError(f"an unknown event type {kind!r}")
