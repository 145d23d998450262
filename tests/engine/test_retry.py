"""Verifier-guided retry: the plan of second decodings and when it stops."""

from __future__ import annotations

from dataclasses import dataclass

from noema_core.decoding.events import GenerationResult, GenerationStats
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.retry import chosen, decode_until_verified, retry_plan, should_retry


@dataclass
class Verdict:
    status: str


def scripted(statuses: list[str]):
    """A generate/check pair: the n-th decoding answers "n", checked as statuses[n]."""
    decoded: list[DecodingSettings] = []

    def generate(messages, settings, cancel=None) -> GenerationResult:
        decoded.append(settings)
        return GenerationResult((), str(len(decoded) - 1), GenerationStats(3, 1, 1, 0.1))

    def check(text: str, *, question: str) -> Verdict:
        return Verdict(statuses[int(text)])

    return generate, check, decoded


def test_the_plan_writes_one_token_per_forward_then_stricter_thresholds_then_other_seeds():
    settings = DecodingSettings.for_mode("s", threshold=0.9, editing_threshold=0.5)
    plan = retry_plan(settings, 4)
    assert [how for how, _ in plan][:3] == ["as asked", "one token per forward",
                                            "stricter thresholds"]
    assert plan[0][1] == settings
    ar = plan[1][1]
    assert ar.mode is Mode.AR and ar == DecodingSettings.for_mode("ar")
    strict = plan[2][1]
    assert strict.mode is Mode.QUALITY and strict.threshold > 0.9
    assert strict.editing_threshold > 0.5
    seeds = [each.seed for _, each in plan[3:]]
    assert len(plan) == 5 and len(set(seeds)) == 2 and all(e.temperature > 0 for _, e in plan[3:])
    assert retry_plan(settings, 0) == [("as asked", settings)]
    assert [how for how, _ in retry_plan(settings, 1)] == ["as asked", "one token per forward"]


def test_an_ar_answer_is_retried_in_q_mode_not_decoded_the_same_way_again():
    settings = DecodingSettings.for_mode("ar", gen_length=256)
    plan = retry_plan(settings, 2)
    assert [how for how, _ in plan][:2] == ["as asked", "stricter thresholds"]
    # AR ignores thresholds: a stricter AR decoding would repeat the greedy answer
    assert all(each.mode is not Mode.AR for _, each in plan[1:])
    assert plan[1][1].gen_length == 256


def test_retries_run_only_while_the_checker_contradicts_and_stop_at_the_first_verified():
    generate, check, decoded = scripted(["contradicted", "contradicted", "verified", "verified"])
    attempts = decode_until_verified(generate, check, [], DecodingSettings(), "q", tries=3)
    assert [a.verdict.status for a in attempts] == ["contradicted", "contradicted", "verified"]
    assert chosen(attempts).result.text == "2" and len(decoded) == 3


def test_could_not_check_is_not_a_reason_to_retry():
    generate, check, decoded = scripted(["unverifiable", "verified"])
    attempts = decode_until_verified(generate, check, [], DecodingSettings(), "q", tries=3)
    assert len(attempts) == 1 and len(decoded) == 1


def test_when_every_try_is_contradicted_the_answer_as_asked_is_shown():
    generate, check, _ = scripted(["contradicted"] * 3)
    attempts = decode_until_verified(generate, check, [], DecodingSettings(), "q", tries=2)
    assert len(attempts) == 3 and chosen(attempts) is attempts[0]
    generate, check, _ = scripted(["contradicted", "unverifiable"])
    attempts = decode_until_verified(generate, check, [], DecodingSettings(), "q", tries=2)
    assert chosen(attempts) is attempts[1]  # not contradicted beats contradicted


def test_an_answer_the_checker_cannot_read_to_a_question_it_can_check_is_retried():
    from dataclasses import asdict

    from noema_core.verify import Verdict as CheckerVerdict

    garbled = CheckerVerdict("unverifiable", method="parse", mode="independent",
                             reason="could not read the answer: '\\frac{102}'")
    assert should_retry(garbled) and should_retry(asdict(garbled))  # the chat stores dicts
    assert not should_retry(garbled, cancelled=True)
    # the question unread, or a reference unread: nothing said about the answer
    assert not should_retry(CheckerVerdict("unverifiable", method="classify", mode="independent"))
    assert not should_retry(CheckerVerdict("unverifiable", method="parse", mode="reference"))
