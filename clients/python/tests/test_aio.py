"""The asyncio client against a real server."""
import asyncio
import random
import unittest

import parendb
import parendb.aio
from parendb import F, errors

from .server import Server, ServerPerClass
from .test_client import CutProxy


class Async(ServerPerClass, unittest.IsolatedAsyncioTestCase):
    async def connect(self, **kw):
        conn = await parendb.aio.connect("127.0.0.1", self.server.port, **kw)
        self.addAsyncCleanup(conn.close)
        return conn

    async def fresh(self, conn, coll, accounts=0, balance=100):
        await conn.rmcoll(coll, missing_ok=True)
        await conn.mkcoll(coll)
        if accounts:
            tx = conn.transaction()
            for i in range(1, accounts + 1):
                tx.create(coll, {"_id": i, "balance": balance})
            await tx.commit()
        return coll

    async def balances(self, conn, coll):
        tx = conn.transaction()
        docs = tx.readall(tx.selects(coll))
        await tx.close()
        return [d["balance"] for d in docs.value]

    async def test_pipelined_transactions_on_one_connection(self):
        c = await self.connect()
        coll = await self.fresh(c, "pipe", accounts=50)

        async def bump(i):
            tx = c.transaction()
            a = tx.select(coll, F("_id") == i, "wn")
            n = tx.update(a, balance=F("balance") + i)
            doc = tx.readall(a)
            await tx.commit()
            return n.value, doc.value["balance"]

        # 50 transactions in flight at once on one connection, each one write.
        results = await asyncio.gather(*(bump(i) for i in range(1, 51)))
        self.assertEqual(results, [(1, 100 + i) for i in range(1, 51)])
        self.assertEqual(await self.balances(c, coll), [100 + i for i in range(1, 51)])
        # Errors land on the transaction that caused them only.
        async def failing():
            tx = c.transaction()
            tx.check(tx.select(coll, F("_id") == 1), F("balance") < 0)
            await tx.commit()
        got = await asyncio.gather(failing(), c.ping(), failing(), c.colls(), return_exceptions=True)
        self.assertIsInstance(got[0], errors.CheckFailedError)
        self.assertIsNone(got[1])
        self.assertIsInstance(got[2], errors.CheckFailedError)
        self.assertIn(coll, got[3])

    async def test_pool_concurrent_transfers(self):
        setup = await self.connect()
        coll = await self.fresh(setup, "abank", accounts=10, balance=1000)
        pool = parendb.aio.AsyncConnectionPool("127.0.0.1", self.server.port, max_size=8)
        self.addAsyncCleanup(pool.close)

        async def worker(seed):
            rnd = random.Random(seed)
            for _ in range(30):
                x, y = rnd.sample(range(1, 11), 2)

                async def transfer(tx):
                    a = tx.select(coll, F("_id") == x, "wn")
                    b = tx.select(coll, F("_id") == y, "wn")
                    tx.check(a, F("balance") >= 3)
                    tx.update(a, balance=F("balance") - 3)
                    tx.update(b, balance=F("balance") + 3)

                await pool.run_transaction(transfer)

        await asyncio.gather(*(worker(i) for i in range(16)))
        self.assertEqual(sum(await self.balances(setup, coll)), 10_000)

    async def test_pool_waits_times_out_and_drops_broken(self):
        pool = parendb.aio.AsyncConnectionPool("127.0.0.1", self.server.port, max_size=1, wait_timeout=0.05)
        self.addAsyncCleanup(pool.close)
        async with pool.connection() as first:
            with self.assertRaises(parendb.PoolTimeout):
                async with pool.connection():
                    pass
        async with pool.connection() as again:
            self.assertIs(again, first)
            await again.begin().acquire()  # left live: closed, not reused
        async with pool.connection() as third:
            self.assertIsNot(third, first)
            await third.ping()

    async def test_unix_socket(self):
        c = await self.connect(unix_socket=self.server.socket_path)
        coll = await self.fresh(c, "aunix", accounts=1)
        async with c.begin() as tx:
            a = tx.select(coll, F("_id") == 1, "wn")
            await tx.acquire()
            await tx.update(a, balance=F("balance") * 2)
            await tx.commit()
        self.assertEqual(await self.balances(c, coll), [200])

    async def test_interactive(self):
        c = await self.connect()
        coll = await self.fresh(c, "ainter", accounts=2)
        async with c.begin() as tx:
            a = tx.select(coll, F("_id") == 1, "wn")
            b = tx.select(coll, F("_id") == 2, "wn")
            await tx.acquire()
            if (await tx.readall(a))["balance"] >= 40:
                await tx.update(a, balance=F("balance") - 40)
                await tx.update(b, balance=F("balance") + 40)
                await tx.commit()
        with self.assertRaises(KeyError):
            async with c.begin() as tx:
                a = tx.select(coll, F("_id") == 1, "wn")
                await tx.acquire()
                await tx.update(a, balance=0)
                raise KeyError("application error")
        self.assertEqual(c.live_transactions, 0)
        self.assertEqual(await self.balances(c, coll), [60, 140])

    async def test_retry_on_deadlock(self):
        c = await self.connect()
        coll = await self.fresh(c, "aretry", accounts=1)
        holder = c.begin()
        holder.select(coll, F("_id") == 1, "wn")
        await holder.acquire()
        attempts = []

        async def fn(tx):
            attempts.append(1)
            if len(attempts) == 2:
                await holder.close()
            tx.update(tx.select(coll, F("_id") == 1, "wn"), balance=7)

        await c.run_transaction(fn, backoff=0.001)
        self.assertEqual(len(attempts), 2)
        self.assertEqual(await self.balances(c, coll), [7])

    async def test_outcome_unknown_when_cut_after_commit(self):
        setup = await self.connect()
        coll = await self.fresh(setup, "acut", accounts=1)
        proxy = CutProxy(self.server.port, b"(commit")
        c = await parendb.aio.connect("127.0.0.1", proxy.port)
        attempts = []

        async def fn(tx):
            attempts.append(1)
            tx.update(tx.select(coll, F("_id") == 1, "wn"), balance=F("balance") + 1)

        with self.assertRaises(errors.OutcomeUnknownError):
            await c.run_transaction(fn)
        self.assertEqual(len(attempts), 1)
        self.assertTrue(c.closed)
        with self.assertRaisesRegex(errors.OperationalError, "lost"):
            await c.ping()

    async def test_timeout_ends_the_connection(self):
        a = await self.connect()
        coll = await self.fresh(a, "atime", accounts=1)
        holder = a.begin()
        holder.select(coll, F("_id") == 1, "wn")
        await holder.acquire()
        b = await self.connect(timeout=0.05)
        tx = b.transaction()
        tx.select(coll, F("_id") == 1, "wn")
        tx.acquire(10_000)  # waits longer than the client will
        with self.assertRaises(errors.OperationalError):
            await tx.close()
        self.assertTrue(b.closed)
        await holder.close()

    async def test_auth_and_hostile_values(self):
        server = Server(password="pw")
        self.addCleanup(server.cleanup)
        with self.assertRaises(errors.AuthError):
            await parendb.aio.connect("127.0.0.1", server.port, password="nope")
        c = await parendb.aio.connect("127.0.0.1", server.port, password="pw")
        self.addAsyncCleanup(c.close)
        await c.mkcoll("h")
        s = 'x") (rmcoll h) ; \n "\\ 😀'
        tx = c.transaction()
        tx.create("h", {"_id": s, s: s})
        await tx.commit()
        tx = c.transaction()
        d = tx.readall(tx.select("h", F(s) == s))
        await tx.close()
        self.assertEqual(d.value, {"_id": s, s: s})


if __name__ == "__main__":
    unittest.main()
