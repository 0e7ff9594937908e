#!/usr/bin/env python3
"""Instructions per history page, counted by callgrind (repeatable on a busy machine).

Builds a SQLite store the way `natter-bench history` does (workspace, one contact and the
conversations through the API, then the messages bulk-inserted with SQL), starts `natter
serve` under `valgrind --tool=callgrind`, sends --warmup page requests, zeroes the counters,
sends --requests more (one keep-alive connection, one request at a time, fixed random seed),
dumps the counters and prints instructions per request. The callgrind file stays in --out
for `callgrind_annotate`.

    scripts/history-callgrind.py --natter target/release/natter --out /tmp/cg
"""

import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

FILLER = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"


def start(cmd, env, timeout=300):
    """Starts natter; returns (process, base address, first admin token or None)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    token, base = None, None
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("natter exited during start")
        if "first admin API token" in line:
            token = line.rsplit(" ", 1)[-1].strip()
        if line.startswith("natter listening on "):
            base = line[len("natter listening on "):].strip()
            break
    if base is None:
        raise SystemExit("natter did not print its address")
    # Keep draining stdout so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, base, token


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=300)


class Api:
    def __init__(self, base, token):
        host = base.split("://", 1)[1]
        self.conn = http.client.HTTPConnection(host, timeout=600)
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        text = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {text[:300]!r}")
        return json.loads(text) if text else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--natter", default="target/release/natter")
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--conversations", type=int, default=100)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--out", default="/tmp/natter-callgrind")
    p.add_argument("--store", help="reuse (or create and keep) the store in this directory")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    store = a.store or tempfile.mkdtemp(prefix="natter-cg-")
    os.makedirs(store, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NATTER_DATA_DIR": os.path.join(store, "data"),
        "NATTER_DATABASE_URL": f"sqlite://{store}/natter.db",
        "NATTER_LOG": "warn",
    }
    meta_path = os.path.join(store, "meta.json")
    if not os.path.exists(meta_path):
        proc, base, admin = start([a.natter, "serve", "--listen", "127.0.0.1:0"], env)
        api = Api(base, admin)
        me = api.call("GET", "/v1/me")["id"]
        contact = api.call("POST", "/v1/contacts",
                           {"external_id": "history-reader", "name": "history-reader"})["id"]
        token = api.call("POST", f"/v1/contacts/{contact}/tokens")["token"]
        ids = []
        for _ in range(a.conversations):
            body = {"kind": "direct", "participants": [
                {"account_id": me, "role": "agent"}, {"account_id": contact, "role": "buyer"}]}
            ids.append(api.call("POST", "/v1/conversations", body)["conversation"]["id"])
        stop(proc)
        per = a.messages // a.conversations
        db = sqlite3.connect(os.path.join(store, "natter.db"))
        db.execute("pragma synchronous = off")
        db.execute("pragma cache_size = -262144")
        now_ms = int(time.time() * 1000)
        for c in ids:
            db.execute(
                """with recursive s(n) as (select 1 union all select n + 1 from s where n < ?6)
                   insert into message (conversation_id, seq, sender_id, kind, format, body,
                                        created_at)
                   select ?1, n, case when n % 2 = 0 then ?2 else ?3 end, 'text', 'plain',
                          'history ' || n || ' ' || ?4, ?5 + n from s""",
                (c, me, contact, FILLER, now_ms - per, per))
            db.execute("update conversation set last_seq = ?1, last_activity_at = ?2, "
                       "updated_at = ?2 where conversation_id = ?3", (per, now_ms, c))
        db.commit()
        db.execute("pragma wal_checkpoint(truncate)")
        db.close()
        with open(meta_path, "w") as f:
            json.dump({"token": token, "ids": ids, "per": per}, f)
    with open(meta_path) as f:
        meta = json.load(f)

    out_file = os.path.join(a.out, "callgrind.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
           a.natter, "serve", "--listen", "127.0.0.1:0"]
    proc, base, _ = start(cmd, env, timeout=600)
    api = Api(base, meta["token"])
    rng = random.Random(42)

    def page():
        c = rng.choice(meta["ids"])
        before = rng.randrange(2, meta["per"] + 2)
        rows = api.call("GET", f"/v1/conversations/{c}/messages?before={before}&limit=50")
        assert len(rows) == min(50, before - 1), (c, before, len(rows))

    for _ in range(a.warmup):
        page()
    subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                   stdout=subprocess.DEVNULL)
    began = time.time()
    for _ in range(a.requests):
        page()
    took = time.time() - began
    subprocess.run(["callgrind_control", "-d", "measured", str(proc.pid)], check=True,
                   stdout=subprocess.DEVNULL)
    stop(proc)
    dumps = sorted(f for f in os.listdir(a.out) if f.startswith("callgrind.out."))
    measured = None
    for name in dumps:
        with open(os.path.join(a.out, name)) as f:
            text = f.read()
        if "desc: Trigger: dump measured" in text:
            measured = (name, text)
    if measured is None:
        raise SystemExit(f"no dump named 'measured' among {dumps}")
    total = None
    for line in measured[1].splitlines():
        if line.startswith("summary:"):
            total = int(line.split()[1])
    print(json.dumps({
        "dump": os.path.join(a.out, measured[0]),
        "requests": a.requests,
        "instructions": total,
        "instructions_per_request": total / a.requests if total else None,
        "wall_s_under_callgrind": round(took, 1),
    }))


if __name__ == "__main__":
    sys.exit(main())
