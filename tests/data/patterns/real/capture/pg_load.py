import os
import random
import subprocess
import time

rnd = random.Random(15)
PSQL = "/usr/bin/psql"
def run(sql, user="app", db="shop", pw="apppw", host="127.0.0.1"):
    env = dict(os.environ, PGPASSWORD=pw, PGCONNECT_TIMEOUT="5")
    subprocess.run([PSQL, "-h", host, "-p", "25433", "-U", user, "-d", db, "-X", "-q", "-c", sql],
                   env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
setup = None
for s in ["CREATE ROLE app LOGIN PASSWORD 'apppw'", "CREATE DATABASE shop OWNER app"]:
    subprocess.run(["su", "postgres", "-c", f"{PSQL} -h /tmp/real20/pg -p 25433 -X -q -c \"{s}\""])
run("CREATE TABLE orders(id int PRIMARY KEY, customer text NOT NULL, total numeric); CREATE TABLE items(id serial, order_id int, sku text);"
    "INSERT INTO orders SELECT g, 'c'||g, g*1.5 FROM generate_series(1,20000) g; CREATE TABLE secrets(x int);")
subprocess.run(["su", "postgres", "-c", f'{PSQL} -h /tmp/real20/pg -p 25433 -d shop -X -q -c "REVOKE ALL ON secrets FROM PUBLIC; ALTER TABLE secrets OWNER TO postgres;"'])
TABLES = ["orders", "order", "customers", "items", "payments", "inventory"]
COLS = ["id", "total", "customer", "status", "created_at", "sku"]
n, t_end = 0, time.time() + 200
while n < 600 and time.time() < t_end:
    n += 1
    k = rnd.random()
    if k < 0.12:
        run(f"SELECT * FROM {rnd.choice(TABLES)} WHERE id = {rnd.randint(1, 999)}")
    elif k < 0.22:
        run(f"INSERT INTO orders VALUES ({rnd.randint(1, 20000)}, 'dup', 1)")
    elif k < 0.30:
        run(f"SELECT {rnd.choice(COLS)} FROM orders LIMIT {rnd.randint(1, 9)}")
    elif k < 0.36:
        run(rnd.choice(["SELEC 1", "SELECT * FORM orders", "UPDATE orders SET total = WHERE id = 1", "SELECT 1 +"]))
    elif k < 0.42:
        run(f"SELECT {rnd.randint(1, 99)} / 0")
    elif k < 0.48:
        run(f"SELECT '{rnd.choice(['abc', 'x1', 'twelve', ''])}'::int")
    elif k < 0.54:
        run(f"INSERT INTO orders VALUES ({rnd.randint(30000, 99999)}, NULL, 2)")
    elif k < 0.60:
        run("SELECT 1", pw=rnd.choice(["wrong", "hunter2"]))
    elif k < 0.64:
        run("SELECT 1", user=rnd.choice(["bob", "reporting", "grafana"]), pw="x")
    elif k < 0.68:
        run("SELECT 1", db=rnd.choice(["shop_dev", "analytics", "postgress"]))
    elif k < 0.74:
        run(f"SELECT pg_sleep(0.{rnd.randint(6, 20):02d}), count(*) FROM orders")
    elif k < 0.80:
        run(f"UPDATE orders SET total = total + 1 WHERE id % {rnd.randint(2, 9)} = 0")
    elif k < 0.84:
        run("SELECT * FROM secrets")
    elif k < 0.88:
        run(f"SET statement_timeout = '50ms'; SELECT pg_sleep(0.{rnd.randint(2, 5)})")
    elif k < 0.92:
        run(f"CREATE TEMP TABLE t AS SELECT g FROM generate_series(1, {rnd.randint(100000, 400000)}) g ORDER BY g DESC")
    elif k < 0.96:
        run(f"DELETE FROM orders WHERE id > {rnd.randint(15000, 20000)}; INSERT INTO orders SELECT g, 'c', 1 FROM generate_series(20001, {rnd.randint(20002, 26000)}) g ON CONFLICT DO NOTHING")
    else:
        run("SELECT 1")
print(n)
