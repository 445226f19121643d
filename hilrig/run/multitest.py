"""Programs that span boards, in MicroPython's ``run-multitests.py`` convention.

A program that defines ``instance0()``, ``instance1()``, … runs once per instance, each copy on
its own board with one of those functions called at the end. The ``multitest`` helper appended
to every copy is run-multitests' own, with the same meaning: ``next()`` lets the next instance
start, ``broadcast(msg)`` / ``wait(msg)`` pass a line to the other instances' stdin, ``globals(
x=...)`` defines ``x`` in the instances started after, ``get_network_ip()`` is this board's
address (``HOST_IP``, the host's, where the board has no network interface), ``skip()`` skips the
program, ``expect_reboot(resume, delay_ms)`` says the board will reboot and ``resume()`` runs
after, and ``output_metric(data)`` reports a figure that is not compared.
"""

from __future__ import annotations

import re
import socket

HELPER = """
import sys
class multitest:
    @staticmethod
    def flush():
        try:
            sys.stdout.flush()
        except AttributeError:
            pass
    @staticmethod
    def skip():
        print("SKIP")
        multitest.flush()
        raise SystemExit
    @staticmethod
    def next():
        print("NEXT")
        multitest.flush()
    @staticmethod
    def broadcast(msg):
        print("BROADCAST", msg)
        multitest.flush()
    @staticmethod
    def wait(msg):
        msg = "BROADCAST " + msg
        while True:
            if sys.stdin.readline().rstrip() == msg:
                return
    @staticmethod
    def globals(**gs):
        for g in gs:
            print("SET {} = {!r}".format(g, gs[g]))
        multitest.flush()
    @staticmethod
    def get_network_ip():
        try:
            ip = nic.ifconfig()[0]
        except:
            try:
                import network
                if hasattr(network, "WLAN"):
                    ip = network.WLAN().ifconfig()[0]
                else:
                    ip = network.LAN().ifconfig()[0]
            except:
                ip = HOST_IP
        return ip
    @staticmethod
    def expect_reboot(resume, delay_ms=0):
        print("WAIT_FOR_REBOOT", resume, delay_ms)
    @staticmethod
    def output_metric(data):
        print("OUTPUT_METRIC", data)

"""

# Output some ports print on their own that run-multitests leaves out of the comparison.
IGNORED = (
    "libusb: error ",
    "hci_transport_h2_libusb.c",
    "USB Path: ",
    "hci_number_completed_packet",
    "lld_pdu_get_tx_flush_nb HCI packet count mismatch (",
    " ets_task(",
)

_INSTANCE = re.compile(rb"^def instance([0-9]+)\(\):", re.MULTILINE)


def instance_count(source: bytes) -> int:
    """How many boards a program needs: one more than its highest ``instanceN``; 0 for none."""
    found = [int(n) for n in _INSTANCE.findall(source)]
    return max(found) + 1 if found else 0


def script(source: bytes, injected: str, call: str) -> bytes:
    """One instance's copy: the program, the helper, the globals so far, then ``call()``."""
    tail = f"{HELPER}\n{injected}\n{call}()\nmultitest.flush()\n"
    return source + b"\n" + tail.encode()


def host_ip(source: bytes, host_vms_only: bool) -> str:
    """The ``HOST_IP = '...'`` line for a program that asks ``get_network_ip()``, else "".

    Host VMs talk over 127.0.0.1; other boards get the host's outward address (found by
    routing a UDP socket, which sends nothing), as run-multitests does.
    """
    if b"get_network_ip" not in source:
        return ""
    address = "127.0.0.1"
    if not host_vms_only:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("8.8.8.8", 80))
            address = probe.getsockname()[0]
        except OSError:
            pass
        finally:
            probe.close()
    return f"HOST_IP = {address!r}\n"


def merged(outputs: list[list[str]]) -> str:
    """The instances' lines as run-multitests prints them: ``--- instance0 ---`` and its lines."""
    return "".join(
        f"--- instance{index} ---\n" + "\n".join(lines) + "\n"
        for index, lines in enumerate(outputs)
    )
