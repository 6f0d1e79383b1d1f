import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, redact, run, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def test_display_quotes_and_redacts():
    cmd = Command(["echo", "a b", "s3cret"], secrets=["s3cret"])
    assert cmd.display() == "echo 'a b' ********"


def test_run_returns_output():
    result = run(Command(["sh", "-c", "echo out; echo err >&2"]))
    assert result.rc == 0
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_failure_names_command_and_tail_without_secret():
    cmd = Command(["sh", "-c", "echo token=hunter2; exit 3"], secrets=["hunter2"])
    with pytest.raises(DeployError) as info:
        run(cmd, what="The probe")
    text = str(info.value)
    assert "The probe failed (exit code 3)" in text
    assert "hunter2" not in text
    assert "token=********" in text


def test_missing_program_says_so():
    with pytest.raises(DeployError) as info:
        run(Command(["/nonexistent/bytelyst-tool"]))
    assert "Could not run /nonexistent/bytelyst-tool" in str(info.value)


def test_tail_and_redact_edges():
    assert tail("\n".join(str(i) for i in range(100)), 3) == "97\n98\n99"
    assert redact("", ["x"]) == ""
    assert redact("abc", [None, ""]) == "abc"


def test_run_returns_raw_output_that_code_parses():
    """A secret equal to a number in JSON output must not corrupt what the caller parses."""
    script = 'printf \'{"ports": [{"published": "4121", "target": 4121}]}\''
    result = run(Command(["sh", "-c", script], secrets=["4121"]))
    assert json.loads(result.stdout) == {"ports": [{"published": "4121", "target": 4121}]}
    # What is shown is redacted (4121 is a whole token there).
    assert result.output == '{"ports": [{"published": "********", "target": ********}]}'


def test_short_secrets_only_replaced_as_whole_tokens():
    message = "Could not start a container named app: PASS=a, KEY=abc; abcdef and xabc stay"
    shown = redact(message, ["a", "abc"])
    assert shown == ("Could not start ******** container named app: PASS=********, KEY=********; "
                     "abcdef and xabc stay")


def test_long_secret_replaced_everywhere_even_inside_json_and_words():
    text = '{"Env": ["DB_PASSWORD=correct-horse-battery", "URL=pg://u:correct-horse-battery@db"]}'
    shown = redact(text, ["correct-horse-battery"])
    assert "correct-horse-battery" not in shown
    assert shown == '{"Env": ["DB_PASSWORD=********", "URL=pg://u:********@db"]}'


def test_one_three_and_long_secret_together_keep_the_message_readable():
    text = ('service web failed: {"environment": {"MODE": "x", "PIN": "k9z", "TOKEN": "tok-4f9a7c21e"}} '
            'exited; next step: fix the mode')
    shown = redact(text, ["x", "k9z", "tok-4f9a7c21e"])
    assert shown == ('service web failed: {"environment": {"MODE": "********", "PIN": "********", '
                     '"TOKEN": "********"}} exited; next step: fix the mode')


def test_longer_secret_redacted_before_a_shorter_one_inside_it():
    assert redact("token=secret-value-2", ["secret", "secret-value-2"]) == "token=********"


def test_redact_ignores_whitespace_only_and_non_string_secrets():
    assert redact("a b c", [" ", "\t"]) == "a b c"
    assert redact("port 4121 open", [4121]) == "port ******** open"


def test_failure_output_redacted_but_result_raw_when_unchecked():
    cmd = Command(["sh", "-c", "echo pw=x9; echo value x9 >&2; exit 1"], secrets=["x9"])
    result = run(cmd, check=False)
    assert result.stdout == "pw=x9\n" and result.stderr == "value x9\n"
    assert result.output == "pw=********\nvalue ********\n"
    with pytest.raises(DeployError) as info:
        run(cmd, what="The step")
    assert "x9" not in str(info.value) and "pw=********" in str(info.value)
    assert info.value.result()["output_tail"] == "pw=********\nvalue ********"


def test_timeout_names_the_step_and_shows_redacted_partial_output():
    cmd = Command(["sh", "-c", "echo started with hunter22; sleep 5"], secrets=["hunter22"], timeout=0.5)
    with pytest.raises(DeployError) as info:
        run(cmd, what="compose up of notes")
    text = str(info.value)
    assert "compose up of notes did not finish within 0.5 seconds" in text
    assert "hunter22" not in text
    assert "started with ********" in text
