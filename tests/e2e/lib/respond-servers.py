"""Local receivers for the respond tests: an HTTP server (webhooks and
notification channels), an SMTP sink and a UDP syslog listener, all on
127.0.0.1 with free ports. Every request is appended as one JSON line to
OUT/http.jsonl, OUT/smtp.jsonl or OUT/syslog.jsonl; the ports are written to
OUT/ports.json once everything listens. With CERTDIR (cert.pem, key.pem) a
second SMTP sink (port "smtp_tls") accepts mail only after STARTTLS and logs
it to OUT/smtp-tls.jsonl.

HTTP behaviour by the first path component:
  flaky      500 for the first two requests, then 200
  down       always 503
  forbidden  always 403
  slow       answers after 3 s
  anything   200
Every answer echoes the request headers (so a secret sent in a header comes
back in the response, which koban must mask in what it records). A request
whose Idempotency-Key was already applied (answered 2xx) is answered 200 but
logged with "duplicate": true.

usage: python3 respond-servers.py OUT [CERTDIR]
"""
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

OUT = sys.argv[1]
lock = threading.Lock()
counts = {}
applied = set()


def log(name, obj):
    with lock:
        with open(os.path.join(OUT, name), "a", encoding="utf-8") as f:
            f.write(json.dumps(obj) + "\n")


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        t = time.time()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        route = self.path.split("/")[1].split("?")[0] if self.path.startswith("/") else ""
        with lock:
            counts[route] = counts.get(route, 0) + 1
            k = counts[route]
        code = 200
        if route == "flaky" and k <= 2:
            code = 500
        elif route == "down":
            code = 503
        elif route == "forbidden":
            code = 403
        key = self.headers.get("Idempotency-Key")
        dup = False
        if code == 200 and key:
            with lock:
                dup = key in applied
                applied.add(key)
        log("http.jsonl", {"t": t, "method": self.command, "path": self.path,
                           "headers": dict(self.headers), "body": body, "n": k,
                           "code": code, "duplicate": dup})
        if route == "slow":
            time.sleep(3)
        resp = json.dumps({"ok": code == 200, "echo": dict(self.headers)}).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(resp)))
            self.end_headers()
            self.wfile.write(resp)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for libcurl: EHLO, MAIL, RCPT, DATA, QUIT (and
    STARTTLS, required, when the server has a TLS context)."""

    def w(self, s):
        self.wfile.write((s + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        tls_ctx = getattr(self.server, "tls", None)
        tls = False
        self.w("220 sink ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.w("250-sink")
                if tls_ctx and not tls:
                    self.w("250-STARTTLS")
                self.w("250 8BITMIME")
            elif up == "STARTTLS" and tls_ctx and not tls:
                self.w("220 ready to start TLS")
                self.connection = tls_ctx.wrap_socket(self.connection, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                tls = True
            elif tls_ctx and not tls and not up.startswith(("QUIT", "NOOP", "RSET")):
                self.w("530 Must issue a STARTTLS command first")
            elif up.startswith("HELO"):
                self.w("250 sink")
            elif up.startswith("MAIL FROM:"):
                mail_from, rcpts = cmd[10:].strip(), []
                self.w("250 OK")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self.w("250 OK")
            elif up == "DATA":
                self.w("354 end with <CRLF>.<CRLF>")
                data = []
                while True:
                    dl = self.rfile.readline(1 << 20)
                    if not dl or dl == b".\r\n":
                        break
                    if dl.startswith(b".."):
                        dl = dl[1:]
                    data.append(dl.decode("utf-8", "replace"))
                log("smtp-tls.jsonl" if tls else "smtp.jsonl",
                    {"from": mail_from, "rcpt": rcpts, "data": "".join(data), "tls": tls})
                self.w("250 queued")
            elif up == "QUIT":
                self.w("221 bye")
                return
            else:
                self.w("250 OK")


class TServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def udp_loop(sock):
    while True:
        data, _ = sock.recvfrom(65536)
        log("syslog.jsonl", {"msg": data.decode("utf-8", "replace")})


def main():
    http_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    http_srv.daemon_threads = True
    smtp_srv = TServer(("127.0.0.1", 0), Smtp)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    for target, arg in ((http_srv.serve_forever, ()), (smtp_srv.serve_forever, ()),
                        (udp_loop, (udp,))):
        threading.Thread(target=target, args=arg, daemon=True).start()
    ports = {"http": http_srv.server_address[1], "smtp": smtp_srv.server_address[1],
             "udp": udp.getsockname()[1]}
    if len(sys.argv) > 2:
        tls_srv = TServer(("127.0.0.1", 0), Smtp)
        tls_srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_srv.tls.load_cert_chain(os.path.join(sys.argv[2], "cert.pem"),
                                    os.path.join(sys.argv[2], "key.pem"))
        threading.Thread(target=tls_srv.serve_forever, daemon=True).start()
        ports["smtp_tls"] = tls_srv.server_address[1]
    tmp = os.path.join(OUT, "ports.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(ports, f)
    os.rename(tmp, os.path.join(OUT, "ports.json"))
    while True:
        time.sleep(3600)


main()
