"""The plain-string labels shared by `noema ask` and the chat app."""

from __future__ import annotations

from types import SimpleNamespace

from noema_core.decoding.events import GenerationStats
from noema_core.decoding.settings import Mode
from noema_tui.formatting import block_line, load_line, mode_label, stats_line, verdict_line


def verdict(status, answer="", expected="", method="", reason="", rule="boxed"):
    return SimpleNamespace(status=status, answer=answer, expected=expected, method=method,
                           reason=reason, rule=rule)


def test_stats_line_shows_speed_tokens_per_forward_forwards_tokens_and_time():
    stats = GenerationStats(prompt_tokens=10, new_tokens=42, forwards=12, seconds=0.5)
    assert stats_line(stats) == (
        "84.0 tok/s · 3.50 tok/fwd · 12 forwards · 42 new tokens · 0.50 s")


def test_stats_line_accepts_the_json_dict_and_survives_zero_time():
    line = stats_line({"new_tokens": 1, "forwards": 1, "seconds": 0.0})
    assert line == "0.0 tok/s · 1.00 tok/fwd · 1 forward · 1 new token · 0.00 s"


def test_verified_verdict_names_the_answer_and_why():
    line = verdict_line(verdict("verified", "5", "{5}", "solve", "substituted back"))
    assert line == "✓ verified: 5 · substituted back"


def test_contradicted_verdict_says_what_sympy_found_instead():
    line = verdict_line(verdict("contradicted", "4", "5", "reference", "4 ≠ 5"))
    assert line == "✗ contradicted: the reply says 4, sympy found 5 · 4 ≠ 5"
    line = verdict_line(verdict("contradicted", "4", "", "solve",
                                "x = 4 does not satisfy the equation"))
    assert line == "✗ contradicted: the reply says 4 · x = 4 does not satisfy the equation"


def test_unverifiable_verdict_says_why_it_could_not_check():
    line = verdict_line(verdict("unverifiable", reason="no final answer found"))
    assert line == "? could not check: no final answer found"


def test_a_reply_with_no_answer_at_all_is_a_quiet_note_not_a_warning():
    line = verdict_line(verdict("unverifiable", method="extract", reason="no final answer found",
                                rule="none"))
    assert line.startswith("– no answer to check") and "could not" not in line
    truncated = verdict("unverifiable", method="extract", reason="never closed",
                        rule="unclosed-box")
    assert verdict_line(truncated) == "? could not check: never closed"
    too_long = verdict("unverifiable", method="limits", reason="too long", rule="none")
    assert verdict_line(too_long) == "? could not check: too long"


def test_mode_labels_accept_modes_and_their_values():
    assert mode_label(Mode.QUALITY) == "Q quality"
    assert mode_label("ar") == "AR autoregressive"


def test_block_and_load_lines():
    assert block_line(2, 5, 12, 32) == "block 3 · forward 5 · 12/32 masked"
    assert load_line("noema-tiny", "cpu", "reading weights", 0.5) == (
        "loading noema-tiny on cpu: reading weights 50%")
