#!/usr/bin/env python3
"""Failover time and catch-up rate of a three-node ParenDB cluster on this machine.

  bench/cluster_failover.py [--kills 20] [--catchup 1000000] [--wipes 5] [--binary build/parendb]

failover: the leader is SIGKILLed KILLS times; each time, the time from the
kill to the first commit acknowledged by its successor (a client tries a
tiny commit on the other nodes in turn, every few milliseconds, following
not-leader). The killed node is restarted and caught up before the next
kill. Default election timeout (1000 ms), as a user gets it.

catch-up: a follower is stopped (SIGKILL), CATCHUP single-document commits
are made on the leader (pipelined over 16 connections), the follower is
restarted and timed until it has applied everything the leader has
(its (cluster) "applied" reaches the leader's), by log or by snapshot.

wipes: a caught-up follower (the log compacted behind it: --snapshot-entries
128) is killed, its data directory removed and the node restarted at once,
empty, as docs/replication.md says to recover a lost directory; timed from
the restart until it has applied everything the leader has (a snapshot,
then the log), WIPES times.

Prints one line per measurement and a summary (median, p90, max).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Conn:
    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def ask(self, text, n):
        self.sock.sendall(text.encode())
        return [self.line() for _ in range(n)]


class Cluster:
    def __init__(self, binary, root, extra):
        self.binary, self.root, self.extra = binary, root, extra
        self.ports = [free_port() for _ in range(3)]
        self.raft = [free_port() for _ in range(3)]
        self.spec = ",".join(f"{i + 1}=127.0.0.1:{p}" for i, p in enumerate(self.raft))
        self.procs = [None, None, None]
        for i in range(3):
            self.start(i)

    def data_dir(self, i):
        return os.path.join(self.root, f"n{i + 1}")

    def start(self, i):
        log = open(os.path.join(self.root, f"n{i + 1}.log"), "a")
        self.procs[i] = subprocess.Popen(
            [self.binary, "serve", "--data", self.data_dir(i), "--port", str(self.ports[i]),
             "--node-id", str(i + 1), "--cluster", self.spec, "--log-level", "warn"] + self.extra,
            stdout=log, stderr=log)
        for _ in range(500):
            try:
                c = Conn(self.ports[i])
                if c.ask("(ping)\n", 1)[0] == "(ok pong)":
                    c.close()
                    return
            except OSError:
                pass
            time.sleep(0.01)
        sys.exit(f"node {i + 1} did not start")

    def kill(self, i):
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()
        self.procs[i] = None

    def stop_all(self):
        for i, p in enumerate(self.procs):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                p.wait()
                self.procs[i] = None

    def info(self, i):
        c = Conn(self.ports[i])
        try:
            return json.loads(c.ask("(cluster)\n", 1)[0])
        finally:
            c.close()

    def try_commit(self, i):
        try:
            c = Conn(self.ports[i], timeout=1.0)
            try:
                return c.ask("(open t)(acquire t)(commit t)\n", 3)[2] == "(ok committed)"
            finally:
                c.close()
        except OSError:
            return False

    def leader(self, within=30.0):
        until = time.monotonic() + within
        while time.monotonic() < until:
            for i in range(3):
                if self.procs[i] is not None and self.try_commit(i):
                    return i
            time.sleep(0.01)
        sys.exit("no leader")

    def wait_caught_up(self, i, within=600.0):
        until = time.monotonic() + within
        while time.monotonic() < until:
            try:
                target = max(self.info(j)["applied"] for j in range(3) if self.procs[j] is not None and j != i)
                if self.info(i)["applied"] >= target:
                    return
            except (OSError, ConnectionError, ValueError):
                pass
            time.sleep(0.01)
        sys.exit(f"node {i + 1} did not catch up")


def summary(name, values, unit):
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
    print(f"{name}: n={len(values)} median {statistics.median(values):.3f} {unit}, p90 {p90:.3f}, "
          f"min {values[0]:.3f}, max {values[-1]:.3f}")


def failover(cluster, kills):
    times = []
    for k in range(kills):
        leader = cluster.leader()
        others = [i for i in range(3) if i != leader]
        t0 = time.monotonic()
        cluster.kill(leader)
        done = False
        while not done:
            for i in others:
                if cluster.try_commit(i):
                    done = True
                    break
            if not done:
                time.sleep(0.005)
        elapsed = time.monotonic() - t0
        times.append(elapsed)
        print(f"kill {k + 1}: node {leader + 1} killed, a commit acknowledged after {elapsed:.3f} s", flush=True)
        cluster.start(leader)
        cluster.wait_caught_up(leader)
    summary("failover (SIGKILL of the leader to the successor's first acknowledged commit)", times, "s")


def catchup(cluster, commits):
    leader = cluster.leader()
    lagging = (leader + 1) % 3
    cluster.kill(lagging)
    per_conn = commits // 16
    errors = []

    def writer(w):
        c = Conn(cluster.ports[leader], timeout=30)
        sent = 0
        while sent < per_conn:
            batch = min(200, per_conn - sent)
            text = "".join(f"(open t)(acquire t)(create d t (coll log)) {{\"w\": {w}, \"k\": {sent + j}}}(commit t)\n"
                           for j in range(batch))
            lines = c.ask(text, 4 * batch)
            bad = [line for line in lines if line.startswith("(error")]
            if bad:
                errors.append(bad[0])
                return
            sent += batch
        c.close()

    c = Conn(cluster.ports[leader])
    c.ask("(mkcoll log)\n", 1)
    c.close()
    t0 = time.monotonic()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("writer failed: " + errors[0])
    wrote = time.monotonic() - t0
    print(f"{per_conn * 16} commits on the leader (two nodes up) in {wrote:.1f} s: {per_conn * 16 / wrote:.0f}/s", flush=True)
    behind = cluster.info(leader)["applied"]
    t0 = time.monotonic()
    cluster.start(lagging)
    cluster.wait_caught_up(lagging)
    took = time.monotonic() - t0
    info = cluster.info(lagging)
    print(f"catch-up: node {lagging + 1} restarted {per_conn * 16} commits behind, applied {info['applied']} "
          f"(leader {behind}) in {took:.2f} s: {per_conn * 16 / took:.0f} commits/s "
          f"(snapshots installed: {info['snapshots_installed']})")


def wipes(cluster, n):
    times = []
    c = Conn(cluster.ports[cluster.leader()])
    c.ask("(mkcoll w)\n", 1)
    c.close()
    for k in range(n):
        leader = cluster.leader()
        c = Conn(cluster.ports[leader], timeout=30)
        text = "".join(f"(open t)(acquire t)(create d t (coll w)) {{\"k\": {j}}}(commit t)\n" for j in range(300))
        bad = [line for line in c.ask(text, 1200) if line.startswith("(error")]
        c.close()
        if bad:
            sys.exit("writer failed: " + bad[0])
        victim = (leader + 1) % 3
        cluster.wait_caught_up(victim)
        cluster.kill(victim)
        shutil.rmtree(cluster.data_dir(victim))
        t0 = time.monotonic()
        cluster.start(victim)
        cluster.wait_caught_up(victim)
        took = time.monotonic() - t0
        times.append(took)
        info = cluster.info(victim)
        print(f"wipe {k + 1}: node {victim + 1} restarted empty, applied {info['applied']} in {took:.3f} s "
              f"(snapshots installed: {info['snapshots_installed']})", flush=True)
    summary("catch-up of a follower restarted with an empty directory", times, "s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--catchup", type=int, default=1000000)
    ap.add_argument("--wipes", type=int, default=5)
    ap.add_argument("--binary", default="build/parendb")
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="parendb-cluster-bench-")
    try:
        if args.kills > 0:
            cluster = Cluster(args.binary, root, [])
            try:
                failover(cluster, args.kills)
            finally:
                cluster.stop_all()
        if args.wipes > 0:
            root3 = os.path.join(root, "wipes")
            os.makedirs(root3)
            cluster = Cluster(args.binary, root3, ["--snapshot-entries", "128"])
            try:
                wipes(cluster, args.wipes)
            finally:
                cluster.stop_all()
        if args.catchup > 0:
            root2 = os.path.join(root, "catchup")
            os.makedirs(root2)
            cluster = Cluster(args.binary, root2, [])
            try:
                catchup(cluster, args.catchup)
            finally:
                cluster.stop_all()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
