"""ClusterClient against three real `parendb serve --cluster` processes."""
import unittest

from parendb import TRUE, F, errors
from parendb.cluster import ClusterClient

from .server import Server, free_port


class ClusterTest(unittest.TestCase):
    def setUp(self):
        raft = [free_port() for _ in range(3)]
        spec = ",".join(f"{i + 1}={'127.0.0.1'}:{p}" for i, p in enumerate(raft))
        self.servers = []
        for i in range(3):
            s = Server(extra=["--node-id", str(i + 1), "--cluster", spec, "--election-timeout", "300",
                              "--heartbeat", "30"])
            self.addCleanup(s.cleanup)
            self.servers.append(s)
        self.client = ClusterClient([("127.0.0.1", s.port) for s in self.servers], wait=20)
        self.addCleanup(self.client.close)

    def transfer(self, tx, a, b):
        x = tx.select("acc", F("_id") == a, "wn")
        y = tx.select("acc", F("_id") == b, "wn")
        tx.update(x, balance=F("balance") - 1)
        tx.update(y, balance=F("balance") + 1)

    def total(self):
        docs = self.client.run_read(lambda tx: tx.readall(tx.selects("acc", TRUE, "r")))
        return sum(d["balance"] for d in docs.value), len(docs.value)

    def test_updates_find_the_leader_and_survive_its_death(self):
        c = self.client
        # mkcoll through an interactive connection to whichever node leads.
        def setup(tx):
            for i in range(1, 5):
                tx.create("acc", {"_id": i, "balance": 100})
        node = None
        for s in self.servers:  # the collection: made on the leader
            conn = c._conn(("127.0.0.1", s.port))
            try:
                conn.mkcoll("acc")
                node = s
                break
            except errors.NotLeaderError:
                continue
            except errors.OperationalError:
                continue
        if node is None:  # an election was still going on: the client waits for one
            c.run_transaction(lambda tx: None)
            c._conn(c.leader).mkcoll("acc")
        c.run_transaction(setup)
        for k in range(20):
            c.run_transaction(lambda tx, k=k: self.transfer(tx, 1 + k % 4, 1 + (k + 1) % 4))
        self.assertEqual(self.total(), (400, 4))
        # Every node answers reads, the same.
        for _ in range(3):
            self.assertEqual(self.total(), (400, 4))
        # Bounded-staleness reads: each node just made a current read, so
        # a minute's bound lets these through without asking the leader —
        # and they still see every transfer acknowledged before that.
        def stale_total(tx):
            sel = tx.selects("acc", TRUE, "r")
            tx.acquire(stale_ms=60000)
            return tx.readall(sel)
        for _ in range(3):
            docs = c.run_read(stale_total)
            self.assertEqual(sum(d["balance"] for d in docs.value), 400)
        # The same through run_read's bound (the acquire the read implies).
        for _ in range(3):
            docs = c.run_read(lambda tx: tx.readall(tx.selects("acc", TRUE, "r")), stale_ms=60000)
            self.assertEqual(sum(d["balance"] for d in docs.value), 400)
        stale = sum(c._conn(("127.0.0.1", s.port)).stats()["cluster"]["stale_reads"] for s in self.servers)
        self.assertEqual(stale, 6)
        with self.assertRaises(ValueError):
            c.run_read(lambda tx: None, stale_ms=-1)
        # The leader dies; the client finds the next one.
        leader = c.leader
        victim = next(s for s in self.servers if s.port == leader[1])
        victim.kill()
        for k in range(10):
            c.run_transaction(lambda tx, k=k: self.transfer(tx, 1 + k % 4, 1 + (k + 1) % 4))
        self.assertNotEqual(c.leader, leader)
        self.assertEqual(self.total(), (400, 4))

    def test_an_update_on_a_follower_is_not_retried_blindly(self):
        # A plain Connection to a follower gets not-leader with the address;
        # the cluster client follows it.
        c = self.client
        c.run_transaction(lambda tx: None)  # finds the leader
        follower = next(("127.0.0.1", s.port) for s in self.servers if s.port != c.leader[1])
        conn = c._conn(follower)
        with self.assertRaises(errors.NotLeaderError) as e:
            conn.mkcoll("x")
        self.assertIn(f"{c.leader[0]}:{c.leader[1]} is the leader", e.exception.message)


if __name__ == "__main__":
    unittest.main()
