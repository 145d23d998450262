"""`noema verify`: exit codes, JSON, and the response from an argument or stdin."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from noema_tui.cli import app


def verify(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["verify", *args], input=stdin)


def test_exit_code_says_verified_contradicted_or_could_not_check(checker):
    assert verify("--reference", "1/2", "\\boxed{0.5}").exit_code == 0
    assert verify("--reference", "3", "The answer is 4").exit_code == 4
    assert verify("--question", "Write a poem", "\\boxed{4}").exit_code == 5
    result = verify("--question", "Solve 3x + 5 = 20", "\\boxed{5}")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "verified: 5"
    assert "reason:" in result.stdout and "found by: boxed" in result.stdout


def test_json_is_one_object_with_the_verdict(checker):
    result = verify("--json", "-r", "7/12", "\\boxed{\\frac{7}{12}}")
    report = json.loads(result.stdout)
    assert result.exit_code == 0
    assert report["status"] == "verified" and report["answer"] == "\\frac{7}{12}"
    assert {"expected", "method", "reason", "rule", "label"} <= set(report)


def test_response_is_read_from_piped_stdin(checker):
    assert verify("-r", "5", stdin="Work.\n\\boxed{5}\n").exit_code == 0
    assert verify("-r", "5", "-", stdin="\\boxed{6}").exit_code == 4


def test_usage_errors_exit_2():
    missing_target = verify("\\boxed{5}")
    assert missing_target.exit_code == 2
    assert "give --reference or --question" in missing_target.stderr
    assert verify("--timeout", "0", "-r", "1", "1").exit_code == 2


def test_verify_help_documents_exit_codes_and_stays_light():
    import subprocess
    import sys

    probe = ("import sys\nfrom noema_tui.cli import app\ntry:\n    app(args=['verify', '--help'], "
             "prog_name='noema')\nexcept SystemExit:\n    pass\nprint(sorted(m for m in ("
             "'sympy', 'torch', 'textual') if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.stderr.strip().splitlines()[-1] == "[]"
    text = " ".join(done.stdout.split())
    for words in ("0 verified", "4 contradicted", "5 could not check", "2 usage"):
        assert words in text
