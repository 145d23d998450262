"""The bridge's message contract and the pure helpers behind the live view."""

from __future__ import annotations

from noema_core.decoding.events import BlockFinished, BlockUpdated, TokenState
from noema_core.errors import DeviceError
from noema_tui.app.bridge import EngineBridge, describe_failure
from noema_tui.app.reply_text import split_settled
from noema_tui.app.widgets.live_block import MASK_GLYPH, SPECIAL_GLYPH, slot_text


def snapshot(block: int, forward: int) -> BlockUpdated:
    return BlockUpdated(block, forward, (1,), (TokenState.STABLE,), (0.9,), ("a",))


def test_a_newer_snapshot_of_the_same_block_replaces_a_stale_one():
    stale = EngineBridge.BlockUpdated(1, snapshot(0, 1))
    assert stale.can_replace(EngineBridge.BlockUpdated(1, snapshot(0, 2)))


def test_snapshots_of_other_blocks_or_replies_are_never_dropped():
    stale = EngineBridge.BlockUpdated(1, snapshot(0, 1))
    assert not stale.can_replace(EngineBridge.BlockUpdated(1, snapshot(1, 1)))
    assert not stale.can_replace(EngineBridge.BlockUpdated(2, snapshot(0, 2)))


def test_block_and_reply_endings_never_merge_away():
    stale = EngineBridge.BlockUpdated(1, snapshot(0, 1))
    finished = EngineBridge.BlockFinished(1, BlockFinished(0, 3, (1,), "a"))
    assert not stale.can_replace(finished)
    assert not finished.can_replace(EngineBridge.BlockFinished(1, BlockFinished(1, 3, (1,))))


def test_expected_errors_keep_their_message_and_unexpected_ones_their_type():
    assert describe_failure(DeviceError("no CUDA GPU: use --device cpu")) == \
        "no CUDA GPU: use --device cpu"
    assert "out of memory" in describe_failure(RuntimeError("CUDA out of memory. Tried 2 GiB"))
    assert describe_failure(KeyError("x")).startswith("KeyError: 'x': this is a bug")


def test_masked_and_special_slots_have_their_own_glyphs():
    assert slot_text("", TokenState.MASKED) == MASK_GLYPH
    assert slot_text("<|endoftext|>", TokenState.STABLE) == SPECIAL_GLYPH
    assert slot_text(" x", TokenState.EDITED) == " x"


def test_paragraphs_settle_only_outside_display_math_and_code():
    text = "Let $x=1$.\n\n$$\nx = 1\n\ny$$\n\ntail"
    assert split_settled(text) == ("Let $x=1$.\n\n$$\nx = 1\n\ny$$\n\n", "tail")
    assert split_settled("Start\n\n$$x =\n\n") == ("Start\n\n", "$$x =\n\n")
    assert split_settled("```\ncode\n\nmore") == ("", "```\ncode\n\nmore")
    assert split_settled("```\n$ not math\n```\n\nnext") == ("```\n$ not math\n```\n\n", "next")
    assert split_settled(r"\[ x" + "\n\n" + r"\]" + "\n\nend") == (
        "\\[ x\n\n\\]\n\n", "end")
