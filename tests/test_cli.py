"""The `dialer` command: subcommand discovery, errors, and pipes."""

import fcntl
import os
import subprocess
import sys

from dialer.cli import main


def test_no_command_prints_help(capsys):
    """Without a subcommand the help is printed and the exit code is 2."""
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_user_error_is_one_line(tmp_path, capsys):
    """A DialerError becomes one line on stderr and exit code 1."""
    assert main(["--db", "nonsense://", "db", "status"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dialer db: error:")


def test_closed_pipe_is_quiet():
    """A reader that leaves early (`| head`) gives no traceback and exit code 141."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)  # smaller than the output
    proc = subprocess.Popen(
        [sys.executable, "-m", "dialer", "prompts", "list", "ivr_scripts/hechi_annual.yaml"],
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    os.read(read_end, 10)
    os.close(read_end)
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
    assert proc.returncode == 141
