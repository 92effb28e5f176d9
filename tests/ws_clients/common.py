"""Starts pounce-host for the independent-client WebSocket tests."""
import os
import re
import signal
import subprocess
import sys


class Host:
    """pounce-host on --port 0, with the startup line parsed for the port."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen(
            [binary, *args, "--port", "0", "--no-access-log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log = []
        for line in self.proc.stderr:
            self.log.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line)
            if m:
                self.port = int(m.group(1))
                return
        raise RuntimeError("pounce-host did not start:\n" + "".join(self.log))

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rest = self.proc.communicate(timeout=20)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.log.append(rest)
        return self.proc.returncode


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)
