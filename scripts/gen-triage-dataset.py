#!/usr/bin/env python3
"""Builds a triage data set: known incidents hidden among generated benign
background, for `koban scan` + `koban triage` (tests/e2e/triage-dataset.sh,
docs/BENCHMARKS.md).

    scripts/gen-triage-dataset.py OUT [--days N] [--seed S] [--scale X]

OUT receives:
  logs/day<K>/...        demo/incident shifted by K days (attacker addresses
                         changed per day): four known incidents a day
  logs/background/...    benign background of Example Corp for the same days:
                         user and admin SSH logins, sudo, cron, web traffic,
                         Sysmon process starts, and the noise every public
                         host sees (SSH password-guessing bots against mail-1,
                         the firewall of www blocking Internet port scanners,
                         users mistyping their passwords)
  assets.csv, vulns.csv  the company's inventory and scan (www vulnerable to
                         Log4Shell)
  expected.json          the known incidents: day, time of their first alert,
                         type, entity, severity
Everything is deterministic for a seed. Addresses are from the documentation
ranges (RFC 5737) and 10/8; names under example.*.
"""
import argparse
import gzip
import json
import os
import random
import re
import shutil
import time

DAY = 86400
BASE = "2026-11-20"
MTIME = time.mktime(time.strptime("2026-12-01 12:00:00", "%Y-%m-%d %H:%M:%S")) - time.timezone

ASSETS = """name,addresses,owner,department,location,type,criticality,tags
bastion-1,10.1.0.5,ops,IT,DC1,public server,4,
www,10.1.0.80,web,Marketing,DC1,public server,3,
mail-1,10.1.0.25,ops,IT,DC1,public server,3,
PC-0042,10.1.20.42,alice,Finance,HQ,user PC,2,
PC-0017,10.1.20.17,bob,Sales,HQ,user PC,2,
FS-01,10.1.20.10,ops,IT,HQ,internal server,4,personal data
FS-02,10.1.20.11,ops,IT,HQ,internal server,3,
DB-01,10.1.30.5,dba,IT,DC1,internal server,5,personal data;payment
"""
VULNS = """host,ip,cve,cvss,name,port,timestamp
www,10.1.0.80,CVE-2021-44228,10.0,Apache Log4j RCE (Log4Shell),443/tcp,2026-11-01T00:00:00Z
bastion-1,10.1.0.5,CVE-2023-48795,5.9,SSH Terrapin Prefix Truncation,22/tcp,2026-11-01T00:00:00Z
"""


def shift_text(text, k):
    day = 20 + k
    text = text.replace(BASE, "2026-11-%02d" % day)
    text = text.replace("20/Nov/2026", "%02d/Nov/2026" % day)
    text = re.sub(r"\bNov 20\b", "Nov %2d" % day if day < 10 else "Nov %d" % day, text)
    text = re.sub(r"\b(17951\d{5})(\.\d+)?\b",
                  lambda m: str(int(m.group(1)) + k * DAY) + (m.group(2) or ""), text)
    # a different attacker every day
    text = text.replace("198.51.100.23", "198.51.100.%d" % (23 + k))
    text = text.replace("192.0.2.200", "192.0.2.%d" % (200 + k))
    return text


def copy_incident(src, out, k):
    for root, _, files in os.walk(src):
        for f in sorted(files):
            p = os.path.join(root, f)
            q = os.path.join(out, "logs", "day%d" % k, os.path.relpath(p, src))
            os.makedirs(os.path.dirname(q), exist_ok=True)
            if f.endswith(".gz"):
                with gzip.open(p, "rt") as r:
                    data = shift_text(r.read(), k)
                with gzip.open(q, "wt") as w:
                    w.write(data)
            else:
                with open(p) as r:
                    data = shift_text(r.read(), k)
                with open(q, "w") as w:
                    w.write(data)


def expected(k):
    return [
        {"day": k, "at": "08:55:01", "type": "brute-force", "entity": "host:bastion-1", "severity": "medium",
         "what": "SSH brute force from 198.51.100.%d, then the shadow file read" % (23 + k)},
        {"day": k, "at": "09:03:10", "type": "targeted-attack", "entity": "host:pc-0042", "severity": "high",
         "what": "macro, PowerShell, C2 beacons, admin shares"},
        {"day": k, "at": "09:49:58", "type": "scan", "entity": "source:192.0.2.%d" % (200 + k), "severity": "low",
         "what": "port scan of www"},
        {"day": k, "at": "09:50:12", "type": "exploit-public-server", "entity": "host:www", "severity": "high",
         "what": "Log4Shell attempt against a vulnerable public server"},
    ]


def syslog_ts(t):
    return time.strftime("%b %e %H:%M:%S", time.gmtime(t))


def background(out, days, rnd, scale):
    bg = os.path.join(out, "logs", "background")
    os.makedirs(bg, exist_ok=True)
    t0 = int(time.mktime(time.strptime(BASE, "%Y-%m-%d")) - time.timezone)
    users = ["alice", "bob", "carol", "dave", "erin", "deploy"]
    servers = ["fs-01", "fs-02", "db-01", "bastion-1"]
    auth, fw, web, sysmon = [], [], [], []
    pid = 20000
    rec = 500000
    for k in range(days):
        d0 = t0 + k * DAY
        # logins, sudo and cron over the working day
        for _ in range(int(400 * scale)):
            t = d0 + rnd.randint(7 * 3600, 19 * 3600)
            h, u = rnd.choice(servers), rnd.choice(users)
            pid += 1
            ip = "10.1.20.%d" % rnd.randint(20, 200)
            r = rnd.random()
            if r < 0.5:
                auth.append((t, "%s %s sshd[%d]: Accepted publickey for %s from %s port %d ssh2: "
                                "ED25519 SHA256:x%06d" % (syslog_ts(t), h, pid, u, ip,
                                                          rnd.randint(40000, 60000), pid)))
            elif r < 0.8:
                auth.append((t, "%s %s sudo: %8s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; "
                                "COMMAND=/usr/bin/systemctl status nginx" % (syslog_ts(t), h, u, u)))
            elif r < 0.985:
                auth.append((t, "%s %s CRON[%d]: pam_unix(cron:session): session opened for user "
                                "root(uid=0) by (uid=0)" % (syslog_ts(t), h, pid)))
            else:  # a mistyped password, then the right one
                auth.append((t, "%s %s sshd[%d]: Failed password for %s from %s port %d ssh2"
                             % (syslog_ts(t), h, pid, u, ip, rnd.randint(40000, 60000))))
                auth.append((t + 4, "%s %s sshd[%d]: Accepted password for %s from %s port %d "
                                    "ssh2" % (syslog_ts(t + 4), h, pid, u, ip,
                                              rnd.randint(40000, 60000))))
        # password-guessing bots against mail-1, a few bursts a day
        for b in range(3):
            bot = "203.0.113.%d" % rnd.randint(100, 250)
            t = d0 + rnd.randint(0, 20 * 3600)
            for _ in range(int(rnd.randint(150, 400) * scale)):
                t += rnd.randint(1, 6)
                pid += 1
                u = rnd.choice(["root", "admin", "test", "oracle", "postgres", "ubuntu", "git"])
                auth.append((t, "%s mail-1 sshd[%d]: Failed password for invalid user %s from %s "
                                "port %d ssh2" % (syslog_ts(t), pid, u, bot,
                                                  rnd.randint(30000, 65000))))
        # Internet scanners knocking on www
        for _ in range(int(12 * scale) or 1):
            src = "198.51.100.%d" % rnd.randint(100, 250)
            t = d0 + rnd.randint(0, 23 * 3600)
            for port in rnd.sample([22, 23, 25, 445, 1433, 3306, 3389, 5900, 6379, 8080, 9200],
                                   rnd.randint(3, 9)):
                t += rnd.randint(0, 2)
                fw.append((t, "%s www kernel: [%d.%03d] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:"
                              "34:56:52:54:00:65:43:21:08:00 SRC=%s DST=10.1.0.80 LEN=44 TOS=0x00 "
                              "PREC=0x00 TTL=52 ID=%d PROTO=TCP SPT=%d DPT=%d WINDOW=1024 RES=0x00 "
                              "SYN URGP=0" % (syslog_ts(t), 900000 + t % 100000, t % 1000, src,
                                              rnd.randint(1, 65535), rnd.randint(30000, 65000),
                                              port)))
        # web traffic
        for _ in range(int(1500 * scale)):
            t = d0 + rnd.randint(0, DAY - 1)
            ip = rnd.choice(["10.1.20.%d" % rnd.randint(20, 200),
                             "198.51.100.%d" % rnd.randint(1, 99),
                             "192.0.2.%d" % rnd.randint(1, 99)])
            path = rnd.choice(["/", "/index.html", "/about", "/products?id=%d" % rnd.randint(1, 500),
                               "/static/app.js", "/static/site.css", "/contact"])
            web.append((t, '%s - - [%s] "GET %s HTTP/1.1" 200 %d "-" "Mozilla/5.0 (X11; Linux '
                           'x86_64) Firefox/132.0"' % (ip, time.strftime("%d/%b/%Y:%H:%M:%S +0000",
                                                                         time.gmtime(t)),
                                                       path, rnd.randint(200, 90000))))
        # endpoint: ordinary programs starting
        for _ in range(int(300 * scale)):
            t = d0 + rnd.randint(7 * 3600, 19 * 3600)
            rec += 1
            pc, user = rnd.choice([("PC-0042", "alice"), ("PC-0017", "bob")])
            img, parent = rnd.choice([
                ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                 "C:\\Windows\\explorer.exe"),
                ("C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
                 "C:\\Windows\\explorer.exe"),
                ("C:\\Windows\\System32\\notepad.exe", "C:\\Windows\\explorer.exe"),
                ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
                 "C:\\Windows\\explorer.exe")])
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            sysmon.append((t, json.dumps({
                "Provider_Name": "Microsoft-Windows-Sysmon", "EventID": 1,
                "TimeCreated": ts + ".000Z", "EventRecordID": rec,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": pc + ".corp.example.com", "UtcTime": ts.replace("T", " ") + ".000",
                "ProcessId": str(rnd.randint(1000, 60000)), "Image": img,
                "CommandLine": '"%s"' % img, "User": "CORP\\" + user,
                "ParentImage": parent, "ParentCommandLine": parent})))
    for name, rows in (("auth.log", auth), ("kernel.log", fw), ("access.log", web),
                       ("sysmon.jsonl", sysmon)):
        rows.sort(key=lambda x: x[0])
        with open(os.path.join(bg, name), "w") as w:
            for _, line in rows:
                w.write(line + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="background volume factor")
    ap.add_argument("--incident", default=os.path.join(os.path.dirname(__file__), "..", "demo",
                                                      "incident"))
    a = ap.parse_args()
    if not 1 <= a.days <= 9:
        ap.error("--days: 1 to 9 (the incident is shifted within November 2026)")
    rnd = random.Random(a.seed)
    if os.path.exists(os.path.join(a.out, "logs")):
        shutil.rmtree(os.path.join(a.out, "logs"))
    os.makedirs(a.out, exist_ok=True)
    exp = []
    for k in range(a.days):
        copy_incident(a.incident, a.out, k)
        exp += expected(k)
    background(a.out, a.days, rnd, a.scale)
    with open(os.path.join(a.out, "assets.csv"), "w") as w:
        w.write(ASSETS)
    with open(os.path.join(a.out, "vulns.csv"), "w") as w:
        w.write(VULNS)
    with open(os.path.join(a.out, "expected.json"), "w") as w:
        json.dump(exp, w, indent=1)
    # syslog has no year: koban takes it from the file's time
    for root, _, files in os.walk(os.path.join(a.out, "logs")):
        for f in files:
            os.utime(os.path.join(root, f), (MTIME, MTIME))


if __name__ == "__main__":
    main()
