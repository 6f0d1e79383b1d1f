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
