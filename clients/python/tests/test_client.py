"""The blocking client and its pool against a real server."""
import socket
import threading
import unittest

import parendb
from parendb import F, errors

from .server import Server, ServerPerClass


class WithServer(ServerPerClass, unittest.TestCase):
    def connect(self, **kw):
        conn = parendb.connect("127.0.0.1", self.server.port, **kw)
        self.addCleanup(conn.close)
        return conn

    def fresh(self, conn, name):
        conn.rmcoll(name, missing_ok=True)
        conn.mkcoll(name)
        return name


def fill_accounts(conn, coll, n, balance=100):
    tx = conn.transaction()
    for i in range(1, n + 1):
        tx.create(coll, {"_id": i, "balance": balance})
    tx.commit()


class Statements(WithServer):
    def test_catalog(self):
        c = self.connect()
        c.ping()
        coll = self.fresh(c, "cat")
        self.assertIn(coll, c.colls())
        self.assertFalse(c.mkcoll(coll, exist_ok=True))
        with self.assertRaises(errors.CollectionExistsError):
            c.mkcoll(coll)
        c.mkindex(coll, F("email"), unique=True)
        c.mkindex(coll, F("address", "city"))
        self.assertEqual([(i["path"], i["unique"]) for i in c.indexes(coll)],
                         [(["address", "city"], False), (["email"], True)])
        with self.assertRaises(errors.IndexExistsError):
            c.mkindex(coll, F("email"))
        c.rmindex(coll, F("address", "city"))
        with self.assertRaises(errors.UnknownIndexError):
            c.rmindex(coll, F("address", "city"))
        stats = c.stats()
        for key in ("commits", "aborts", "wal_syncs", "connections", "documents"):
            self.assertIsInstance(stats[key], int)
        c.checkpoint()
        self.assertTrue(c.rmcoll(coll))
        self.assertFalse(c.rmcoll(coll, missing_ok=True))
        with self.assertRaises(errors.UnknownCollectionError):
            c.rmcoll(coll)

    def test_every_transaction_statement(self):
        c = self.connect()
        coll = self.fresh(c, "people")
        tx = c.transaction()
        ada = tx.create(coll, {"name": "Ada", "age": 36, "tags": ["math"], "address": {"city": "London"}})
        tx.create(coll, {"name": "Bob", "age": 70})
        tx.create(coll, {"_id": "carol", "name": "Carol", "age": 61})
        made = tx.readall(ada)
        tx.commit()
        self.assertEqual(made.value, {"_id": 1, "name": "Ada", "age": 36, "tags": ["math"],
                                      "address": {"city": "London"}})

        tx = c.transaction()
        old = tx.selects(coll, F("age") > 60, "wn")
        one = tx.select(coll, F("age") > 60, "r")
        tx.check(old, F("age") >= 61)
        names = tx.read(old, "name", F("address", "city"))
        first = tx.readall(one)
        n = tx.update(old, {"age": F("age") + 1, ("address", "city"): "Oslo"})
        after = tx.read(old, "age")
        plan = tx.explain(old)
        tx.commit()
        self.assertEqual(names.value, [{"_id": 2, "name": "Bob"}, {"_id": "carol", "name": "Carol"}])
        self.assertEqual(first.value["_id"], 2)
        self.assertEqual(n.value, 2)
        self.assertEqual(after.value, [{"_id": 2, "age": 71}, {"_id": "carol", "age": 62}])
        self.assertIn("index", plan.value)

        tx = c.transaction()
        bob = tx.select(coll, F("_id") == 2, "wb")
        replaced = tx.replace(bob, {"name": "Robert"})
        tx.commit()
        self.assertEqual(replaced.value, 1)

        tx = c.transaction()
        everyone = tx.selects(coll, True, "r", order=F("name"), descending=True, limit=2)
        docs = tx.read(everyone, "name")
        tx.close()
        self.assertEqual([d["name"] for d in docs.value], ["Robert", "Carol"])

        tx = c.transaction()
        gone = tx.delete(tx.selects(coll, F("name") == "Robert", "wn"))
        tx.commit()
        self.assertEqual(gone.value, 1)

        tx = c.transaction()
        nobody = tx.readall(tx.select(coll, F("name") == "Robert"))
        tx.close()
        self.assertIsNone(nobody.value)

    def test_acquire_timeout_and_reading_a_pending_answer(self):
        c = self.connect()
        coll = self.fresh(c, "acq")
        tx = c.transaction()
        sel = tx.selects(coll)
        tx.acquire(1000)
        p = tx.readall(sel)
        with self.assertRaises(errors.InterfaceError):
            p.value
        tx.close()
        self.assertEqual(p.value, [])


class Errors(WithServer):
    """Every error code the server can be made to answer, as its class."""

    def raw_error(self, conn, text, n=1):
        replies = conn.execute_raw(text, n)
        return replies[-1]

    def test_statement_level_codes(self):
        c = self.connect()
        coll = self.fresh(c, "errs")
        cases = {
            "(ping 1e999)": errors.SyntaxError,
            "(frobnicate)": errors.UnknownStatementError,
            "(ping 1)": errors.ArityError,
            "(mkcoll 9x)": errors.BadNameError,
            "(commit nosuch)": errors.UnknownTransactionError,
            "(readall nosuch)": errors.UnknownSelectionError,
            "(mkcoll errs)": errors.CollectionExistsError,
            "(auth \"x\")": None,  # no password set: accepted (lang-docs/additions.md)
        }
        for text, cls in cases.items():
            reply = self.raw_error(c, text)
            if cls is None:
                self.assertIsInstance(reply, parendb.Ok, text)
            else:
                self.assertIs(type(reply), cls, f"{text}: {reply!r}")
        self.assertIs(type(self.raw_error(c, "(open t)(open t)", 2)), errors.DuplicateNameError)
        self.assertIs(type(self.raw_error(c, "(open s)(commit s)", 2)), errors.StageError)
        del coll

    def expect(self, cls, build, survives=True):
        c = self.connect()
        tx = c.transaction()
        build(tx)
        with self.assertRaises(cls) as ctx:
            tx.commit()
        self.assertEqual(ctx.exception.code, cls.code)
        self.assertTrue(ctx.exception.statement)
        # The error closed the transaction; the connection goes on (but
        # for input so deep that the server cannot find its end).
        if survives:
            c.ping()
        else:
            self.assertTrue(c.closed)
        return ctx.exception

    def test_transaction_level_codes(self):
        c = self.connect()
        coll = self.fresh(c, "terrs")
        fill_accounts(c, coll, 2)
        c.mkindex(coll, F("email"), unique=True)
        self.expect(errors.UnknownCollectionError, lambda tx: tx.selects("nosuch"))
        self.expect(errors.LockModeError, lambda tx: tx.create(coll, {"a": 1}) if tx.selects(coll) else None)
        self.expect(errors.TypeError, lambda tx: tx.update(tx.select(coll, F("_id") == 1, "wn"),
                                                            balance=F("balance") / 0))
        self.expect(errors.BadDocumentError, lambda tx: tx.update(tx.select(coll, F("_id") == 1, "wn"), _id=5))
        self.expect(errors.DuplicateIdError, lambda tx: tx.create(coll, {"_id": 1}))
        self.expect(errors.CheckFailedError, lambda tx: tx.check(tx.select(coll, F("_id") == 1), F("balance") > 1e9))
        tx = c.transaction()
        tx.create(coll, {"email": "a@x"})
        tx.commit()
        self.expect(errors.DuplicateKeyError, lambda tx: tx.create(coll, {"email": "a@x"}))
        err = self.expect(errors.LimitError, lambda tx: tx.create(coll, {"deep": _nest(300)}), survives=False)
        self.assertIn("limit", err.message)

    def test_lock_timeout_deadlock_and_conflict(self):
        a, b = self.connect(), self.connect()
        coll = self.fresh(a, "waits")
        fill_accounts(a, coll, 2)
        a.mkindex(coll, F("email"), unique=True)
        with a.begin() as holder:
            holder.select(coll, F("_id") == 1, "wn")
            holder.acquire()
            # another connection waits, then times out
            tx = b.transaction()
            tx.select(coll, F("_id") == 1, "wn")
            tx.acquire(20)
            with self.assertRaises(errors.LockTimeoutError) as ctx:
                tx.commit()
            self.assertTrue(ctx.exception.retryable)
            # the same connection would wait on itself: deadlock
            tx = a.transaction()
            tx.select(coll, F("_id") == 1, "wn")
            with self.assertRaises(errors.DeadlockError):
                tx.commit()
        # A unique key written by a live transaction: conflict.
        with a.begin() as writer:
            writer.acquire()
            writer.create(coll, {"email": "same@x"})
            tx = b.transaction()
            tx.create(coll, {"email": "same@x"})
            with self.assertRaises(errors.ConflictError) as ctx:
                tx.commit()
            self.assertTrue(ctx.exception.retryable)

    def test_auth(self):
        server = Server(password='s3cret "quoted" (paren)')
        self.addCleanup(server.cleanup)
        c = parendb.connect("127.0.0.1", server.port, password='s3cret "quoted" (paren)')
        self.addCleanup(c.close)
        c.ping()
        with self.assertRaises(errors.AuthError):
            parendb.connect("127.0.0.1", server.port, password="wrong")
        bare = parendb.connect("127.0.0.1", server.port)
        self.addCleanup(bare.close)
        with self.assertRaises(errors.AuthError):
            bare.ping()


def _nest(depth):
    v = 0
    for _ in range(depth):
        v = [v]
    return v


class Misuse(WithServer):
    def test_client_side_refusals_send_nothing(self):
        c = self.connect()
        coll = self.fresh(c, "mis")
        tx = c.transaction()
        with self.assertRaises(ValueError):
            tx.selects("bad name")
        with self.assertRaises(ValueError):
            tx.selects(coll, True, "x")
        s = tx.selects(coll)
        with self.assertRaises(ValueError):
            tx.update(s, {"a": "\ud800"})
        other = c.transaction()
        with self.assertRaises(parendb.errors.InterfaceError):
            other.readall(s)
        with self.assertRaises(ValueError):
            c.transaction().create(coll, {"s": "\udfff"})
        with self.assertRaises(ValueError):
            c.transaction().selects(coll, F("x\udfff") == 1)
        # Nothing of that reached the server: the connection is in step.
        c.ping()
        self.assertEqual(c.colls().count(coll), 1)

    def test_closed_connection(self):
        c = self.connect()
        c.close()
        with self.assertRaises(errors.InterfaceError):
            c.ping()

    def test_unix_socket(self):
        c = self.connect(unix_socket=self.server.socket_path)
        coll = self.fresh(c, "unixsock")
        fill_accounts(c, coll, 2)
        c.run_transaction(lambda tx: tx.update(tx.select(coll, F("_id") == 1, "wn"), balance=F("balance") - 1))
        self.assertIn("unix:", repr(c))
        pool = parendb.ConnectionPool(unix_socket=self.server.socket_path, max_size=2)
        self.addCleanup(pool.close)
        with pool.connection() as pc:
            tx = pc.transaction()
            docs = tx.readall(tx.selects(coll))
            tx.close()
        self.assertEqual([d["balance"] for d in docs.value], [99, 100])
        with self.assertRaises(errors.OperationalError):
            parendb.connect(unix_socket=self.server.socket_path + ".missing")

    def test_server_down(self):
        from .server import free_port
        with self.assertRaises(errors.OperationalError):
            parendb.connect("127.0.0.1", free_port(), connect_timeout=2)


HOSTILE = [
    'quote " inside', "paren ) (rmcoll x) (", "semi ; colon", "new\nline\r\n", "nul \x00 byte", "tab\tand\\back",
    "é ü 中文 😀 \u2028 \u2029", "\x7f\x1b[31m", "(ok committed)", "x" * 200_000, "", " ", "\\u0000",
]


class HostileValues(WithServer):
    def test_round_trip_intact(self):
        c = self.connect()
        coll = self.fresh(c, "hostile")
        tx = c.transaction()
        sels = [tx.create(coll, {"_id": i, "s": s, s[:50] or "k": [s, {"n": s}]}) for i, s in enumerate(HOSTILE)]
        del sels
        tx.commit()
        for i, s in enumerate(HOSTILE):
            tx = c.transaction()
            by_value = tx.selects(coll, F("s") == s)
            by_path = tx.read(by_value, F(s[:50] or "k"))
            docs = tx.readall(by_value)
            tx.close()
            self.assertEqual(docs.value, [{"_id": i, "s": s, s[:50] or "k": [s, {"n": s}]}], repr(s[:40]))
            self.assertEqual(by_path.value[0][s[:50] or "k"], [s, {"n": s}])
        # Hostile strings as _ids and in updates.
        tx = c.transaction()
        for s in HOSTILE[:8]:
            tx.create(coll, {"_id": "id:" + s})
        tx.commit()
        tx = c.transaction()
        sel = tx.select(coll, F("_id") == "id:" + HOSTILE[1], "wn")
        tx.update(sel, {F("new", HOSTILE[0]): HOSTILE[2]})
        doc = tx.readall(sel)
        tx.commit()
        self.assertEqual(doc.value, {"_id": "id:" + HOSTILE[1], "new": {HOSTILE[0]: HOSTILE[2]}})

    def test_numbers_exact(self):
        c = self.connect()
        coll = self.fresh(c, "nums")
        values = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 0.1, -2.5e-300, 1.7976931348623157e308, 2.0]
        tx = c.transaction()
        tx.create(coll, {"_id": 1, "v": values})
        tx.commit()
        tx = c.transaction()
        doc = tx.readall(tx.select(coll, F("_id") == 1))
        tx.close()
        self.assertEqual(doc.value["v"], values)
        self.assertEqual([type(v) for v in doc.value["v"]], [type(v) for v in values])


class Transactions(WithServer):
    def test_interactive_commits_and_closes(self):
        c = self.connect()
        coll = self.fresh(c, "inter")
        fill_accounts(c, coll, 2)
        with c.begin() as tx:
            a = tx.select(coll, F("_id") == 1, "wn")
            b = tx.select(coll, F("_id") == 2, "wn")
            tx.acquire()
            if tx.readall(a)["balance"] >= 30:
                self.assertEqual(tx.update(a, balance=F("balance") - 30), 1)
                tx.update(b, balance=F("balance") + 30)
                tx.commit()
        self.assertEqual(c.live_transactions, 0)
        # An exception in the block closes the transaction (writes discarded).
        with self.assertRaises(ZeroDivisionError):
            with c.begin() as tx:
                a = tx.select(coll, F("_id") == 1, "wn")
                tx.acquire()
                tx.update(a, balance=0)
                1 / 0
        # Leaving without commit closes too.
        with c.begin() as tx:
            a = tx.select(coll, F("_id") == 2, "wn")
            tx.acquire()
            tx.update(a, balance=0)
        tx = c.transaction()
        docs = tx.readall(tx.selects(coll))
        tx.close()
        self.assertEqual([d["balance"] for d in docs.value], [70, 130])
        # A server error ends it; the next call says so.
        with c.begin() as tx:
            a = tx.select(coll, F("_id") == 1, "wn")
            tx.acquire()
            with self.assertRaises(errors.CheckFailedError):
                tx.check(a, F("balance") > 1000)
            with self.assertRaises(errors.InterfaceError):
                tx.update(a, balance=1)
        self.assertEqual(c.live_transactions, 0)

    def test_retry_on_deadlock(self):
        c = self.connect()
        coll = self.fresh(c, "retry")
        fill_accounts(c, coll, 1)
        holder = c.begin()
        holder.select(coll, F("_id") == 1, "wn")
        holder.acquire()
        attempts = []

        def transfer(tx):
            attempts.append(1)
            if len(attempts) == 2:
                holder.close()  # the other transaction goes away before the retry
            a = tx.select(coll, F("_id") == 1, "wn")
            tx.update(a, balance=F("balance") + 1)

        c.run_transaction(transfer, backoff=0.001)
        self.assertEqual(len(attempts), 2)  # deadlock (waits on its own connection), then success
        tx = c.transaction()
        d = tx.readall(tx.select(coll, F("_id") == 1))
        tx.close()
        self.assertEqual(d.value["balance"], 101)
        # Non-retryable errors come straight out.
        attempts.clear()

        def failing(tx):
            attempts.append(1)
            tx.check(tx.select(coll, F("_id") == 1), F("balance") < 0)

        with self.assertRaises(errors.CheckFailedError):
            c.run_transaction(failing)
        self.assertEqual(len(attempts), 1)

    def test_retries_are_bounded(self):
        c = self.connect()
        coll = self.fresh(c, "bounded")
        fill_accounts(c, coll, 1)
        with c.begin() as holder:
            holder.select(coll, F("_id") == 1, "wn")
            holder.acquire()
            attempts = []

            def fn(tx):
                attempts.append(1)
                tx.select(coll, F("_id") == 1, "wn")

            with self.assertRaises(errors.DeadlockError):
                c.run_transaction(fn, retries=3, backoff=0.0001)
            self.assertEqual(len(attempts), 4)


class CutProxy:
    """Forwards one client connection to the server and cuts both sides as
    soon as the client has sent `trigger` (before any answer to it)."""

    def __init__(self, port, trigger):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.trigger = trigger
        self.thread = threading.Thread(target=self.run, args=(port,), daemon=True)
        self.thread.start()

    def run(self, port):
        client, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", port))
        seen = b""

        def back():
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
            except OSError:
                pass

        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                seen += data
                if self.trigger in seen:
                    upstream.sendall(data)
                    break
                upstream.sendall(data)
        finally:
            client.shutdown(socket.SHUT_RDWR)
            client.close()
            upstream.close()
            self.listener.close()


class BrokenConnections(WithServer):
    def test_lost_after_commit_sent_is_outcome_unknown_and_not_retried(self):
        setup = self.connect()
        coll = self.fresh(setup, "cut")
        fill_accounts(setup, coll, 1)
        proxy = CutProxy(self.server.port, b"(commit")
        c = parendb.connect("127.0.0.1", proxy.port)
        attempts = []

        def fn(tx):
            attempts.append(1)
            tx.update(tx.select(coll, F("_id") == 1, "wn"), balance=F("balance") + 1)

        with self.assertRaises(errors.OutcomeUnknownError):
            c.run_transaction(fn)
        self.assertEqual(len(attempts), 1)
        self.assertTrue(c.closed)
        with self.assertRaisesRegex(errors.OperationalError, "lost"):
            c.ping()

    def test_lost_before_commit_is_operational(self):
        setup = self.connect()
        coll = self.fresh(setup, "cut2")
        fill_accounts(setup, coll, 1)
        proxy = CutProxy(self.server.port, b"(acquire")
        c = parendb.connect("127.0.0.1", proxy.port)
        with self.assertRaises(errors.OperationalError) as ctx:
            with c.begin() as tx:
                tx.select(coll, F("_id") == 1, "wn")
                tx.acquire()
        self.assertNotIsInstance(ctx.exception, errors.OutcomeUnknownError)
        self.assertEqual(c.live_transactions, 0)

    def test_interrupted_round_trip_closes_the_connection(self):
        c = self.connect()
        real = c._sock

        class Interrupting:
            """The socket, but the first recv is interrupted (as by Ctrl-C)."""

            def __getattr__(self, name):
                return getattr(real, name)

            def recv(self, n):
                raise KeyboardInterrupt

        c._sock = Interrupting()
        with self.assertRaises(KeyboardInterrupt):
            c.ping()
        # The answer still on its way must not be read as the next call's.
        self.assertTrue(c.closed)
        with self.assertRaisesRegex(errors.OperationalError, "interrupted"):
            c.colls()

    def test_server_killed_mid_transaction(self):
        server = Server()
        self.addCleanup(server.cleanup)
        c = parendb.connect("127.0.0.1", server.port)
        c.mkcoll("k")
        fill_accounts(c, "k", 1)
        tx = c.begin()
        a = tx.select("k", F("_id") == 1, "wn")
        tx.acquire()
        server.kill()
        with self.assertRaises(errors.OperationalError):
            tx.update(a, balance=0)
        self.assertTrue(c.closed)
        self.assertFalse(tx.live)
        # Restarted, the uncommitted write is not there; the committed are.
        server.start()
        c = parendb.connect("127.0.0.1", server.port)
        self.addCleanup(c.close)
        t = c.transaction()
        doc = t.readall(t.select("k", F("_id") == 1))
        t.close()
        self.assertEqual(doc.value["balance"], 100)


class Pool(WithServer):
    def test_concurrent_transfers_keep_the_total(self):
        setup = self.connect()
        coll = self.fresh(setup, "bank")
        accounts = 20
        fill_accounts(setup, coll, accounts, balance=1000)
        pool = parendb.ConnectionPool("127.0.0.1", self.server.port, max_size=8)
        self.addCleanup(pool.close)
        import random

        def worker(seed):
            rnd = random.Random(seed)
            for _ in range(40):
                x, y = rnd.sample(range(1, accounts + 1), 2)

                def transfer(tx):
                    a = tx.select(coll, F("_id") == x, "wn")
                    b = tx.select(coll, F("_id") == y, "wn")
                    tx.check(a, F("balance") >= 7)
                    tx.update(a, balance=F("balance") - 7)
                    tx.update(b, balance=F("balance") + 7)

                try:
                    pool.run_transaction(transfer)
                except errors.CheckFailedError:
                    pass

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pool.connection() as c:
            tx = c.transaction()
            docs = tx.readall(tx.selects(coll))
            tx.close()
        self.assertEqual(sum(d["balance"] for d in docs.value), accounts * 1000)
        self.assertLessEqual(pool._size, 8)

    def test_one_connection_shared_by_threads(self):
        c = self.connect()
        coll = self.fresh(c, "shared")
        fill_accounts(c, coll, 8)
        errors_seen = []

        def worker(i):
            try:
                for _ in range(50):
                    c.run_transaction(lambda tx: tx.update(tx.select(coll, F("_id") == i + 1, "wn"),
                                                           balance=F("balance") + 1))
            except Exception as e:  # reported below
                errors_seen.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors_seen, [])
        tx = c.transaction()
        docs = tx.readall(tx.selects(coll))
        tx.close()
        self.assertEqual([d["balance"] for d in docs.value], [150] * 8)

    def test_broken_and_busy_connections_are_not_reused(self):
        pool = parendb.ConnectionPool("127.0.0.1", self.server.port, max_size=1, wait_timeout=0.2)
        self.addCleanup(pool.close)
        with pool.connection() as c:
            first = c
            with self.assertRaises(parendb.PoolTimeout):
                with pool.connection():
                    pass
        with pool.connection() as c:
            self.assertIs(c, first)
            c.begin().acquire()  # left live: the pool closes this connection
        with pool.connection() as c:
            self.assertIsNot(c, first)
            c.ping()


if __name__ == "__main__":
    unittest.main()
