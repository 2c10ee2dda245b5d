import random
import socket
import subprocess
import time

rnd = random.Random(20)
WORDS = ["alpha", "beta", "gamma", "delta", "index", "admin", "login", "static", "assets", "images", "css", "js", "shop", "cart", "checkout", "user", "profile", "report", "wp-admin", "phpmyadmin", "backup", "old", "new", "test", "config"]
P = ["nginx", "-c", "/tmp/real20/nginx/nginx.conf", "-p", "/tmp/real20/nginx"]
def req(raw: bytes, timeout=3.0):
    s = socket.create_connection(("127.0.0.1", 28080), timeout=timeout)
    try:
        s.sendall(raw)
        try:
            while s.recv(65536):
                pass
        except TimeoutError:
            pass
    finally:
        s.close()
def path():
    return "/" + "/".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 3))) + rnd.choice(["", ".php", ".html", ".bak", "/"])
t_end = time.time() + 120
n = 0
while n < 1500 and time.time() < t_end:
    n += 1
    k = rnd.random()
    host = rnd.choice(["localhost", "shop.test", "127.0.0.1:28080"])
    ref = f"Referer: http://{rnd.choice(['google.test','shop.test'])}/{rnd.choice(WORDS)}\r\n" if rnd.random() < 0.3 else ""
    try:
        if k < 0.35:
            req(f"GET {path()} HTTP/1.1\r\nHost: {host}\r\n{ref}Connection: close\r\n\r\n".encode())
        elif k < 0.42:
            req(f"GET /dir/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.50:
            req(f"GET /priv/{rnd.choice(WORDS)}.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.58:
            req(f"GET /api/{rnd.choice(WORDS)}?id={rnd.randint(1,999)} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.63:
            body = "x" * rnd.randint(2000, 9000)
            req(f"POST /{rnd.choice(WORDS)} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode())
        elif k < 0.68:
            req(rnd.choice([b'FOO', b'\x16\x03\x01', b'get']) + b" / HTTP/1.1\r\n\r\n")
        elif k < 0.72:
            req(f"GET /loop/{rnd.choice(WORDS)} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.78:
            user = rnd.choice(["alice", "bob", "mallory", "root"])
            import base64
            tok = base64.b64encode(f"{user}:{rnd.choice(['secret','guess'])}".encode()).decode()
            req(f"GET /auth/{rnd.choice(WORDS)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {tok}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.80:
            req(f"GET /up/hang HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        elif k < 0.86:
            req(f"GET /slow/{rnd.choice(WORDS)} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), timeout=0.2)
        elif k < 0.92:
            req(f"GET /index.html HTTP/1.1\r\nHost: {host}\r\n\r\n".encode(), timeout=0.3)  # keepalive closed by client
        elif k < 0.97:
            req(f"GET /{rnd.choice(WORDS)} HTTP/1.1\r\nHost: {host}\r\n" .encode(), timeout=0.2)  # incomplete headers
        else:
            subprocess.run(P + ["-s", "reload"], check=False)
            time.sleep(0.3)
    except OSError:
        pass
print(n)
