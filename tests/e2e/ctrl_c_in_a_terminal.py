#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal, as a person would in a shell, waits until it prints WAIT_FOR,
then types Ctrl-C; prints everything it printed and exits with its exit code (128+N for signal N).

Usage: ctrl_c_in_a_terminal.py WAIT_FOR TIMEOUT_S COMMAND [ARG...]
Exits 124 when WAIT_FOR does not show up in time (the command is then killed)."""
import os
import pty
import select
import signal
import sys
import time

wait_for, timeout = sys.argv[1].encode(), float(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as in an interactive shell
    os.execvp(sys.argv[3], sys.argv[3:])

output = b""
sent = False
deadline = time.monotonic() + timeout
while True:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        if not sent:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
            sys.stdout.write(output.decode(errors="replace"))
            sys.exit(124)
        break
    ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
    if ready:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        output += data
    if not sent and wait_for in output:
        time.sleep(0.2)
        os.write(fd, b"\x03")
        sent = True
        deadline = time.monotonic() + timeout
_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status) if os.waitstatus_to_exitcode(status) >= 0
         else 128 - os.waitstatus_to_exitcode(status))
