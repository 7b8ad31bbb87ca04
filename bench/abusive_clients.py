#!/usr/bin/env python3
"""Peak memory of `parendb serve` while N connections each send an unfinished
statement just under the size limit (issue 14), against the input budget.

    bench/abusive_clients.py [--binary build/parendb] [--connections 1000]
                             [--statement-kb 1024] [--max-input-mb 64]

Starts the server in memory on a free port, records its resident set before,
opens the connections and sends each (statement-kb - 1) KiB of a statement
that never ends (unbounded, that is connections x statement-kb buffered),
waits until every connection has either been closed by the server with
(error limit ...) or is still held, checks that a well-behaved client is
answered throughout, and prints the server's peak resident set (VmHWM)
beside the budget."""
import argparse, os, re, select, socket, subprocess, sys, time


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) * 1024


def ask(sock, text):
    sock.sendall(text.encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            return "<closed>"
        data += chunk
    return data.decode().strip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="build/parendb")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--statement-kb", type=int, default=1024)
    p.add_argument("--max-input-mb", type=int, default=64)
    a = p.parse_args()
    limit = a.statement_kb * 1024
    log = open(f"/tmp/parendb-abusive-{os.getpid()}.log", "w+")
    server = subprocess.Popen([a.binary, "serve", "--memory", "--port", "0", "--threads", "2",
                               "--max-statement-bytes", str(limit), "--max-input-mb", str(a.max_input_mb),
                               "--max-connections", str(a.connections + 10)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(500):
            log.seek(0)
            m = re.search(r"listening on [0-9.]+:(\d+)", log.read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.02)
        if port is None:
            sys.exit("the server did not start")
        good = socket.create_connection(("127.0.0.1", port))
        assert ask(good, "(ping)") == "(ok pong)"
        before = status(server.pid, "VmRSS")
        partial = b'(ping "' + b"x" * (limit - 1024)
        socks, closed = [], 0
        started = time.time()
        for i in range(a.connections):
            s = socket.create_connection(("127.0.0.1", port))
            try:
                s.sendall(partial)
            except OSError:
                closed += 1  # evicted while sending
            socks.append(s)
            if i % 100 == 99:
                assert ask(good, "(ping)") == "(ok pong)", "a well-behaved client was not answered"
                print(f"  {i + 1} connections sent, server resident {status(server.pid, 'VmRSS') / 2**20:.0f} MiB",
                      flush=True)
        # Wait until each connection is closed by the server or quiet.
        told = 0
        for s in socks:
            r, _, _ = select.select([s], [], [], 0.5)
            if r:
                data = s.recv(4096)
                told += data.startswith(b"(error limit")
        assert ask(good, "(ping)") == "(ok pong)", "a well-behaved client was not answered"
        peak = status(server.pid, "VmHWM")
        now = status(server.pid, "VmRSS")
        unbounded = a.connections * (limit - 1024)
        print(f"connections {a.connections}, each {(limit - 1024) / 2**10:.0f} KiB unfinished "
              f"({unbounded / 2**20:.0f} MiB if all were kept), budget --max-input-mb {a.max_input_mb}")
        print(f"server resident: before {before / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, "
              f"after {now / 2**20:.1f} MiB; peak - before = {(peak - before) / 2**20:.1f} MiB")
        print(f"closed with (error limit ...): {told} (+{closed} reset while sending); "
              f"well-behaved client answered throughout; {time.time() - started:.1f} s")
        for s in socks:
            s.close()
    finally:
        server.terminate()
        server.wait()
        log.close()
        os.unlink(log.name)


if __name__ == "__main__":
    main()
