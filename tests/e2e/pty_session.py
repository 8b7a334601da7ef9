"""A program under a pseudo-terminal, driven the way a person would: type, wait for text."""
import os, pty, select, sys, time


class PtySession:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)
        self.buf = b""

    def read_until(self, pat, timeout=120):
        """Returns the screen text up to and including `pat`; fails the test on a timeout."""
        end = time.time() + timeout
        while pat.encode() not in self.buf:
            if time.time() > end:
                sys.exit(f"FAIL: timed out waiting for {pat!r}; screen so far:\n{self.buf.decode(errors='replace')}")
            r, _, _ = select.select([self.fd], [], [], 0.5)
            if r:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    break
        i = self.buf.index(pat.encode()) + len(pat)
        seen, self.buf = self.buf[:i], self.buf[i:]
        return seen.decode(errors="replace")

    def send(self, s):
        os.write(self.fd, s.encode())

    def wait(self):
        _, status = os.waitpid(self.pid, 0)
        return os.WEXITSTATUS(status)
