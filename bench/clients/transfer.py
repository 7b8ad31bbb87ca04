"""Durable transfers from one Python process with 16 transactions in flight,
through ParenDB's client and through the ecosystem's standard clients doing
the same logical work: redis-py (EVALSHA of a Lua transfer; Redis with
appendfsync always) and psycopg2 (SELECT transfer(a, b, 5), a PL/pgSQL
function; synchronous_commit=on). Prints one line per run:

    SYSTEM VARIANT txn/s client-CPU-us/txn transactions

Usage (bench/clients/run.sh starts the servers and calls this):
    python3 transfer.py SYSTEM VARIANT --port P --seconds S [--concurrency 16]
with SYSTEM/VARIANT: parendb threads | parendb asyncio | redis threads |
redis asyncio | postgres threads.
"""
import argparse
import asyncio
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

ACCOUNTS = 10_000


def pair(rnd):
    a = rnd.randrange(1, ACCOUNTS + 1)
    b = rnd.randrange(1, ACCOUNTS)
    return a, b if b < a else b + 1


def run_threads(n, seconds, make_worker):
    """n threads, each calling its worker's step() until the time is up."""
    stop = time.monotonic() + seconds
    counts = [0] * n
    errors = []
    barrier = threading.Barrier(n + 1)

    def body(i):
        try:
            step = make_worker(i)
            barrier.wait()
            done = 0
            while time.monotonic() < stop:
                step()
                done += 1
            counts[i] = done
        except BaseException as e:  # reported, not swallowed
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    c0, t0 = os.times(), time.monotonic()
    for t in threads:
        t.join()
    c1, t1 = os.times(), time.monotonic()
    if errors:
        raise errors[0]
    return sum(counts), t1 - t0, (c1.user - c0.user) + (c1.system - c0.system)


# ------------------------------------------------------------------ ParenDB
def parendb_transfer(tx, rnd):
    """The contract's transfer, built on a one-round-trip transaction."""
    from parendb import F

    a, b = pair(rnd)
    sa = tx.select("acc", F("_id") == a, "wn")
    sb = tx.select("acc", F("_id") == b, "wn")
    tx.check(sa, F("balance") >= 5)
    tx.update(sa, {"balance": F("balance") - 5})
    tx.update(sb, {"balance": F("balance") + 5})


def parendb_threads(port, n, seconds):
    import parendb

    pool = parendb.ConnectionPool("127.0.0.1", port, max_size=n)

    def make(i):
        rnd = random.Random(i)
        return lambda: pool.run_transaction(lambda tx: parendb_transfer(tx, rnd))

    return run_threads(n, seconds, make)


async def _async_loop(n, seconds, make):
    stop = time.monotonic() + seconds
    counts = [0] * n
    steps = [await make(i) for i in range(n)]

    async def body(i):
        done = 0
        while time.monotonic() < stop:
            await steps[i]()
            done += 1
        counts[i] = done

    c0, t0 = os.times(), time.monotonic()
    await asyncio.gather(*(body(i) for i in range(n)))
    c1, t1 = os.times(), time.monotonic()
    return sum(counts), t1 - t0, (c1.user - c0.user) + (c1.system - c0.system)


def parendb_asyncio(port, n, seconds):
    import parendb.aio

    async def main():
        pool = parendb.aio.AsyncConnectionPool("127.0.0.1", port, max_size=n)

        async def make(i):
            rnd = random.Random(i)

            async def transfer(tx):
                parendb_transfer(tx, rnd)

            return lambda: pool.run_transaction(transfer)

        try:
            return await _async_loop(n, seconds, make)
        finally:
            await pool.close()

    return asyncio.run(main())


# -------------------------------------------------------------------- Redis
LUA = """local a = cjson.decode(redis.call('GET', KEYS[1])) local b = cjson.decode(redis.call('GET', KEYS[2]))
local v = tonumber(ARGV[1]) if a.balance < v then return 0 end a.balance = a.balance - v b.balance = b.balance + v
redis.call('SET', KEYS[1], cjson.encode(a)) redis.call('SET', KEYS[2], cjson.encode(b)) return 1"""


def redis_threads(port, n, seconds):
    import redis

    r = redis.Redis(host="127.0.0.1", port=port, connection_pool=redis.BlockingConnectionPool(
        host="127.0.0.1", port=port, max_connections=n))
    script = r.register_script(LUA)

    def make(i):
        rnd = random.Random(i)

        def step():
            a, b = pair(rnd)
            script(keys=[f"acc:{a}", f"acc:{b}"], args=[5])

        return step

    return run_threads(n, seconds, make)


def redis_asyncio(port, n, seconds):
    import redis.asyncio as aredis

    async def main():
        r = aredis.Redis(host="127.0.0.1", port=port, max_connections=n)
        script = r.register_script(LUA)

        async def make(i):
            rnd = random.Random(i)

            async def step():
                a, b = pair(rnd)
                await script(keys=[f"acc:{a}", f"acc:{b}"], args=[5])

            return step

        try:
            return await _async_loop(n, seconds, make)
        finally:
            await r.close()

    return asyncio.run(main())


# ----------------------------------------------------------------- Postgres
def postgres_threads(port, n, seconds):
    import psycopg2

    def make(i):
        rnd = random.Random(i)
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True  # each SELECT transfer(...) is its own durable transaction
        cur = conn.cursor()

        def step():
            a, b = pair(rnd)
            cur.execute("SELECT transfer(%s, %s, 5)", (a, b))
            cur.fetchone()

        return step

    return run_threads(n, seconds, make)


RUNS = {
    ("parendb", "threads"): parendb_threads,
    ("parendb", "asyncio"): parendb_asyncio,
    ("redis", "threads"): redis_threads,
    ("redis", "asyncio"): redis_asyncio,
    ("postgres", "threads"): postgres_threads,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("system", choices=sorted({s for s, _ in RUNS}))
    ap.add_argument("variant", choices=sorted({v for _, v in RUNS}))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    n, elapsed, cpu = RUNS[(a.system, a.variant)](a.port, a.concurrency, a.seconds)
    print(f"{a.system} {a.variant} {n / elapsed:.0f} {cpu / max(n, 1) * 1e6:.0f} {n}")


if __name__ == "__main__":
    main()
