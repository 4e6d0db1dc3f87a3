# A real SMTP server on loopback for licd's tests (aiosmtpd). Each accepted message is written
# to DIR as NNN.eml (an X-Envelope-To line, then the message as received), through a temp
# file and a rename, so a reader never sees half a message. Recipients at refused.example
# get a permanent 550, at later.example a transient 451.
#
#   python3 smtp_server.py PORT DIR
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rsplit("@", 1)[-1].lower()
        if domain == "refused.example":
            return "550 5.1.1 mailbox unavailable"
        if domain == "later.example":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = len([f for f in os.listdir(self.directory) if f.endswith(".eml")])
            name = "%06d.eml" % (n + 1)
            tmp = os.path.join(self.directory, "." + name)
            with open(tmp, "wb") as f:
                f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
                f.write(envelope.original_content)
            os.rename(tmp, os.path.join(self.directory, name))
        return "250 2.0.0 queued"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    controller = Controller(Store(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    # Runs until the test kills it or closes stdin.
    sys.stdin.read()
    controller.stop()


main()
