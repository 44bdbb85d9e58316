"""A real SMTP server for the channel tests: aiosmtpd on 127.0.0.1:PORT, login cw/secret
required (AUTH over plain text allowed: it is a loopback test server), each accepted message
written to DIR/NNNN.eml; the first FAIL_FIRST messages are answered 451 (try again later).
Prints READY once it accepts connections; runs until killed.

usage: smtp_server.py PORT DIR FAIL_FIRST
"""
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")  # "AUTH without TLS": deliberate on a loopback test server

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out_dir, fail_first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])


class Handler:
    def __init__(self):
        self.seen = 0
        self.stored = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.seen <= fail_first:
            return "451 4.3.0 try again later"
        self.stored += 1
        path = os.path.join(out_dir, "%04d.eml" % self.stored)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"cw" and auth_data.password == b"secret"
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
