"""Write the held-out pattern-mining datasets of this folder (run once; the output is committed).

Each dataset is one program's log: every line is printed from one of that program's
own format strings (copied from its source, the ``%s``/``%d`` conversions written as
``{kind}`` here), filled with realistic values. The ground truth is derived from the
format string alone: the event id is the format string's index, the true template is
the format string with every conversion replaced by ``<*>``. The miner was never run
on these files before they were written, and none of its code or settings refers to them.

Usage: ``python tests/data/patterns/make_heldout.py`` (deterministic: seeded).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = 2000

USERS = ["alice", "bob", "deploy", "git", "postgres", "www-data", "ubuntu", "admin", "oracle", "test",
         "jenkins", "backup", "carol", "dave", "ansible", "nagios", "svc-ci", "mysql", "pi", "guest"]
HOSTS = ["web-3.prod.example.org", "db1", "cache.example.org", "bastion", "ci-runner-7", "api.internal",
         "mail.example.com", "edge-12.cdn.example.net", "localhost", "build01.lab"]
UNITS = ["nginx.service", "ssh.service", "postgresql@15-main.service", "cron.service", "docker.service",
         "apt-daily.service", "logrotate.service", "user@1000.service", "snapd.service", "fwupd.service",
         "man-db.service", "systemd-tmpfiles-clean.service", "certbot.service", "prometheus.service"]
DESCRIPTIONS = ["OpenBSD Secure Shell server", "A high performance web server and a reverse proxy server",
                "Daily apt upgrade and clean activities", "Rotate log files", "Docker Application Container Engine",
                "Regular background program processing daemon", "Cleanup of Temporary Directories",
                "PostgreSQL Cluster 15-main", "Daily man-db regeneration", "Certbot", "Prometheus",
                "Firmware update daemon", "Snap Daemon", "Message of the Day", "Session 42 of User alice",
                "User Manager for UID 1000", "Network Time Synchronization", "Journal Service"]
TARGETS = ["Timers", "Paths", "Sockets", "Basic System", "Network is Online", "Multi-User System", "Shutdown",
           "Main User Target", "Graphical Interface", "Local File Systems"]
PATHS = ["/var/www/html/favicon.ico", "/var/www/html/wp-login.php", "/usr/share/nginx/html/.env",
         "/var/www/static/app.js", "/srv/www/robots.txt", "/var/www/html/admin/config.php",
         "/usr/share/nginx/html/index.html", "/var/www/html/.git/config"]
URIS = ["/", "/api/v1/orders", "/api/v1/orders/8812", "/login", "/static/app.3f2a.js", "/healthz",
        "/checkout?step=2&cart=991", "/wp-login.php", "/.env", "/search?q=rain+jacket", "/metrics"]
COMMANDS = ["/usr/bin/apt-get update", "/usr/bin/apt-get install -y nginx-light", "/usr/bin/systemctl restart nginx",
            "/bin/journalctl -u ssh --since today", "/usr/bin/tail -f /var/log/syslog", "/bin/bash",
            "/usr/bin/docker ps -a", "/usr/sbin/reboot", "/usr/bin/vim /etc/hosts", "/usr/bin/id",
            "/usr/bin/systemctl status postgresql@15-main.service --no-pager"]
TABLES = ["orders", "users", "sessions", "line_items", "audit_log", "payments", "inventory", "carts"]
DBS = ["shop", "postgres", "analytics", "billing", "template1"]
APPS = ["psql", "pg_dump", "checkout-api", "metabase", "pgbench"]
STATEMENTS = ["SELECT * FROM orders WHERE id = 42", "select count(*) from users",
              "UPDATE carts SET updated_at = now() WHERE user_id = 7",
              "INSERT INTO audit_log (actor, action) VALUES ('alice', 'login')",
              "DELETE FROM sessions WHERE expires < now()", "COMMIT", "BEGIN",
              "SELECT o.id, sum(li.price) FROM orders o JOIN line_items li ON li.order_id = o.id GROUP BY o.id"]
COMMS = ["python3", "java", "node", "postgres", "nginx", "chrome", "dockerd", "containerd-shim", "gunicorn"]
IFACES = ["eth0", "enp3s0", "wlp2s0", "docker0", "ens160", "veth1a2b3c"]
DISCONNECT = ["Bye Bye", "disconnected by user", "Normal Shutdown, Thank you for playing", "Goodbye",
              "Client disconnecting normally"]
KEYTYPES = ["RSA", "ED25519", "ECDSA"]


def _rng_values(rnd: random.Random) -> dict[str, Callable[[], str]]:
    def ip() -> str:
        return f"{rnd.choice([10, 172, 192, 203, 45, 61])}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"

    def b64(n: int) -> str:
        return "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(n))

    def hexs(n: int) -> str:
        return "".join(rnd.choice("0123456789abcdef") for _ in range(n))

    def dur_pg() -> str:
        return f"{rnd.randrange(0, 30)}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}.{rnd.randrange(1000):03d}"

    def consumed() -> str:
        s = rnd.random() * 400
        if s < 60:
            return f"{s:.3f}s"
        return f"{int(s // 60)}min {s % 60:.3f}s"

    def kb() -> str:
        return f"{rnd.randrange(1, 5_000_000)}kB"

    return {
        "user": lambda: rnd.choice(USERS),
        "host": lambda: rnd.choice(HOSTS),
        "ip": ip,
        "port": lambda: str(rnd.randrange(1024, 65535)),
        "num": lambda: str(rnd.randrange(0, 5000)),
        "small": lambda: str(rnd.randrange(0, 10)),
        "pid": lambda: str(rnd.randrange(300, 4_000_000)),
        "uid": lambda: str(rnd.choice([0, 1000, 1001, 33, 113, 998])),
        "fp": lambda: "SHA256:" + b64(43),
        "keytype": lambda: rnd.choice(KEYTYPES),
        "reason": lambda: rnd.choice(DISCONNECT),
        "tty": lambda: rnd.choice(["pts/0", "pts/1", "pts/3", "tty1", "unknown"]),
        "dir": lambda: rnd.choice(["/home/alice", "/root", "/srv/app", "/var/www/html", "/tmp", "/etc/nginx"]),
        "command": lambda: rnd.choice(COMMANDS),
        "unit": lambda: rnd.choice(UNITS),
        "desc": lambda: rnd.choice(DESCRIPTIONS),
        "target": lambda: rnd.choice(TARGETS),
        "consumed": consumed,
        "session": lambda: str(rnd.randrange(1, 900)),
        "path": lambda: rnd.choice(PATHS),
        "request": lambda: f"{rnd.choice(['GET', 'GET', 'POST', 'HEAD'])} {rnd.choice(URIS)} HTTP/{rnd.choice(['1.1', '1.1', '2.0'])}",
        "upstream": lambda: f"http://{rnd.choice(['127.0.0.1', '10.0.3.7', 'app.internal'])}:{rnd.choice([8080, 8000, 3000, 9000])}{rnd.choice(URIS)}",
        "server": lambda: rnd.choice(["example.com", "shop.example.com", "_", "api.example.com"]),
        "hostport": lambda: f"{rnd.choice(HOSTS)}:{rnd.choice([80, 443, 5070, 8443])}",
        "bytes": lambda: str(rnd.randrange(1_000_000, 90_000_000)),
        "float3": lambda: f"{rnd.random() * 10:.3f}",
        "float1": lambda: f"{rnd.random() * 100:.1f}",
        "ms": lambda: f"{rnd.random() * 9000:.3f}",
        "table": lambda: rnd.choice(TABLES),
        "db": lambda: rnd.choice(DBS),
        "app": lambda: rnd.choice(APPS),
        "statement": lambda: rnd.choice(STATEMENTS),
        "constraint": lambda: rnd.choice(TABLES) + "_pkey",
        "column": lambda: rnd.choice(["id", "email", "user_id", "sku"]),
        "token": lambda: rnd.choice(["SELEC", "FORM", "WHERE", ")", "limit", "'", "ORDER"]),
        "pgdur": dur_pg,
        "kb": kb,
        "comm": lambda: rnd.choice(COMMS),
        "addr": lambda: hexs(rnd.choice([8, 12, 16])),
        "hex2": lambda: f"0x{rnd.randrange(256):02x}",
        "iface": lambda: rnd.choice(IFACES),
        "mac": lambda: ":".join(hexs(2) for _ in range(14)),
        "dev": lambda: rnd.choice(["sda1", "nvme0n1p2", "dm-0", "sdb", "loop3"]),
        "usb": lambda: f"{rnd.randrange(1, 4)}-{rnd.randrange(1, 9)}",
        "speed": lambda: rnd.choice(["100", "1000", "10000"]),
        "duplex": lambda: rnd.choice(["Full", "Half"]),
        "flow": lambda: rnd.choice(["None", "Rx/Tx", "Rx", "Tx"]),
        "profile": lambda: rnd.choice(["/usr/sbin/cupsd", "snap.firefox.firefox", "/usr/bin/man", "docker-default"]),
        "operation": lambda: rnd.choice(["open", "file_mmap", "capable", "mknod"]),
        "mask": lambda: rnd.choice(["r", "w", "rw", "wc", "x"]),
        "epoch": lambda: f"{rnd.randrange(1_700_000_000, 1_800_000_000)}.{rnd.randrange(1000):03d}:{rnd.randrange(1, 9999)}",
        "proto": lambda: rnd.choice(["TCP"]),
        "sizegb": lambda: f"{rnd.choice(['1.00 TB/932 GiB', '512 GB/477 GiB', '2.00 TB/1.82 TiB', '256 GB/238 GiB'])}",
        "blocks": lambda: str(rnd.randrange(10**8, 10**10)),
        "cpu": lambda: str(rnd.randrange(0, 16)),
        "excess": lambda: f"{rnd.random() * 20:.3f}",
        "zone": lambda: rnd.choice(["perip", "login", "api"]),
        "conn": lambda: str(rnd.randrange(1, 10**6)),
        "worker": lambda: f"{rnd.randrange(500, 99999)}#{rnd.randrange(500, 99999)}",
        "size_h": lambda: rnd.choice(["0 bytes", "1,234 bytes (1.20 KB)", "12,582,912 bytes (12.0 MB)",
                                      "512 bytes", "98,304 bytes (96.0 KB)"]),
        "elapsed": lambda: rnd.choice(["00:01", "00:17", "01:02:03", "12:00:59", "00:00"]),
        "pkgs": lambda: " ".join(rnd.sample(["curl", "libssl3", "openssl", "tzdata", "linux-image-6.1.0-18-amd64",
                                              "libc6", "git", "python3.11"], rnd.randrange(1, 5))),
    }


# Format strings, one program each. Sources: OpenSSH (auth.c auth_log, sshd.c, auth2-*.c,
# packet.c), Linux-PAM pam_unix (support.c, pam_unix_sess.c), sudo (logging.c), PostgreSQL 15
# (postmaster.c, postgres.c, checkpointer/xlog.c, vacuumlazy.c, elog messages), Linux (printk
# formats of the named drivers), systemd (unit.c, job.c, logind-session.c, core/service.c),
# nginx (ngx_http_*.c error messages), unattended-upgrades/apt (the "misc" program lines are
# apt's and dpkg's). "%s" that a code path fills with one fixed word (sshd's auth method) is
# written out, as Loghub's templates do.
DATASETS: dict[str, dict[str, object]] = {
    "sshd": {
        "prog": "sshd",
        "formats": [
            (30, "Accepted publickey for {user} from {ip} port {port} ssh2: {keytype} {fp}"),
            (12, "Accepted password for {user} from {ip} port {port} ssh2"),
            (40, "Failed password for {user} from {ip} port {port} ssh2"),
            (40, "Failed password for invalid user {user} from {ip} port {port} ssh2"),
            (40, "Invalid user {user} from {ip} port {port}"),
            (30, "Connection closed by {ip} port {port} [preauth]"),
            (20, "Connection closed by authenticating user {user} {ip} port {port} [preauth]"),
            (20, "Connection closed by invalid user {user} {ip} port {port} [preauth]"),
            (15, "Disconnected from user {user} {ip} port {port}"),
            (25, "Received disconnect from {ip} port {port}:{small}: {reason} [preauth]"),
            (10, "Received disconnect from {ip} port {port}:{small}: {reason}"),
            (25, "pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)"),
            (25, "pam_unix(sshd:session): session closed for user {user}"),
            (20, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"),
            (10, "pam_unix(sshd:auth): check pass; user unknown"),
            (8, "error: maximum authentication attempts exceeded for {user} from {ip} port {port} ssh2 [preauth]"),
            (8, "Disconnecting authenticating user {user} {ip} port {port}: Too many authentication failures [preauth]"),
            (6, "Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1 [preauth]"),
            (6, "Timeout before authentication for {ip} port {port}"),
            (5, "banner exchange: Connection from {ip} port {port}: invalid format"),
            (4, "Server listening on 0.0.0.0 port 22."),
            (4, "Server listening on :: port 22."),
            (3, "Received signal 15; terminating."),
            (5, "error: kex_exchange_identification: Connection closed by remote host"),
            (5, "fatal: Timeout before authentication for {ip} port {port}"),
            (4, "PAM {small} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"),
        ],
    },
    "sudo": {
        "prog": "sudo",
        "formats": [
            (50, "{user} : TTY={tty} ; PWD={dir} ; USER=root ; COMMAND={command}"),
            (8, "{user} : TTY={tty} ; PWD={dir} ; USER={user} ; COMMAND={command}"),
            (10, "{user} : {small} incorrect password attempts ; TTY={tty} ; PWD={dir} ; USER=root ; COMMAND={command}"),
            (8, "{user} : user NOT in sudoers ; TTY={tty} ; PWD={dir} ; USER=root ; COMMAND={command}"),
            (6, "{user} : command not allowed ; TTY={tty} ; PWD={dir} ; USER=root ; COMMAND={command}"),
            (50, "pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})"),
            (50, "pam_unix(sudo:session): session closed for user root"),
            (10, "pam_unix(sudo:auth): authentication failure; logname={user} uid={uid} euid=0 tty=/dev/{tty} ruser={user} rhost=  user={user}"),
            (6, "pam_unix(sudo:auth): conversation failed"),
            (6, "pam_unix(sudo:auth): auth could not identify password for [{user}]"),
            (4, "{user} : a password is required ; TTY={tty} ; PWD={dir} ; USER=root ; COMMAND={command}"),
        ],
    },
    "postgresql": {
        "prog": None,
        "formats": [
            (12, "LOG:  checkpoint starting: time"),
            (4, "LOG:  checkpoint starting: immediate force wait"),
            (12, "LOG:  checkpoint complete: wrote {num} buffers ({float1}%); {small} WAL file(s) added, {small} removed, {small} recycled; write={float3} s, sync={float3} s, total={float3} s; sync files={num}, longest={float3} s, average={float3} s; distance={kb}, estimate={kb}"),
            (40, "LOG:  connection received: host={ip} port={port}"),
            (30, "LOG:  connection authorized: user={user} database={db} application_name={app}"),
            (30, "LOG:  disconnection: session time: {pgdur} user={user} database={db} host={ip} port={port}"),
            (25, "LOG:  duration: {ms} ms  statement: {statement}"),
            (15, "ERROR:  relation \"{table}\" does not exist at character {num}"),
            (10, "ERROR:  duplicate key value violates unique constraint \"{constraint}\""),
            (10, "DETAIL:  Key ({column})=({num}) already exists."),
            (10, "ERROR:  syntax error at or near \"{token}\" at character {num}"),
            (25, "STATEMENT:  {statement}"),
            (12, "FATAL:  password authentication failed for user \"{user}\""),
            (12, "DETAIL:  Connection matched pg_hba.conf line {num}: \"host all all 0.0.0.0/0 scram-sha-256\""),
            (6, "FATAL:  database \"{db}\" does not exist"),
            (8, "LOG:  automatic vacuum of table \"{db}.public.{table}\": index scans: {small}"),
            (8, "LOG:  automatic analyze of table \"{db}.public.{table}\""),
            (6, "ERROR:  canceling statement due to statement timeout"),
            (6, "LOG:  could not receive data from client: Connection reset by peer"),
            (4, "FATAL:  terminating connection due to administrator command"),
            (3, "LOG:  database system is ready to accept connections"),
            (3, "LOG:  listening on IPv4 address \"127.0.0.1\", port 5432"),
            (3, "LOG:  listening on Unix socket \"/var/run/postgresql/.s.PGSQL.5432\""),
            (5, "LOG:  background worker \"logical replication launcher\" (PID {pid}) exited with exit code 1"),
            (5, "FATAL:  role \"{user}\" does not exist"),
            (4, "LOG:  temporary file: path \"base/pgsql_tmp/pgsql_tmp{pid}.{small}\", size {bytes}"),
        ],
    },
    "kernel": {
        "prog": "kernel",
        "formats": [
            (10, "usb {usb}: new high-speed USB device number {small} using xhci_hcd"),
            (8, "usb {usb}: USB disconnect, device number {small}"),
            (8, "EXT4-fs ({dev}): mounted filesystem with ordered data mode. Quota mode: none."),
            (6, "Out of memory: Killed process {pid} ({comm}) total-vm:{kb}, anon-rss:{kb}, file-rss:{kb}, shmem-rss:{kb}, UID:{uid} pgtables:{kb} oom_score_adj:0"),
            (12, "{comm}[{pid}]: segfault at {addr} ip {addr} sp {addr} error {small} in {comm}[{addr}+{addr}]"),
            (8, "e1000e 0000:00:1f.6 {iface}: NIC Link is Up {speed} Mbps {duplex} Duplex, Flow Control: {flow}"),
            (6, "e1000e 0000:00:1f.6 {iface}: NIC Link is Down"),
            (6, "IPv6: ADDRCONF(NETDEV_CHANGE): {iface}: link becomes ready"),
            (4, "TCP: request_sock_TCP: Possible SYN flooding on port {port}. Sending cookies.  Check SNMP counters."),
            (40, "[UFW BLOCK] IN={iface} OUT= MAC={mac} SRC={ip} DST={ip} LEN={num} TOS={hex2} PREC=0x00 TTL={num} ID={num} PROTO=TCP SPT={port} DPT={port} WINDOW={num} RES=0x00 SYN URGP=0"),
            (15, "[UFW BLOCK] IN={iface} OUT= MAC={mac} SRC={ip} DST={ip} LEN={num} TOS={hex2} PREC=0x00 TTL={num} ID={num} PROTO=UDP SPT={port} DPT={port} LEN={num}"),
            (15, "audit: type=1400 audit({epoch}): apparmor=\"DENIED\" operation=\"{operation}\" profile=\"{profile}\" name=\"{path}\" pid={pid} comm=\"{comm}\" requested_mask=\"{mask}\" denied_mask=\"{mask}\" fsuid={uid} ouid=0"),
            (4, "sd 0:0:0:0: [sda] {blocks} 512-byte logical blocks: ({sizegb})"),
            (6, "perf: interrupt took too long ({num} > {num}), lowering kernel.perf_event_max_sample_rate to {num}"),
            (4, "nf_conntrack: nf_conntrack: table full, dropping packet"),
            (6, "CPU{cpu}: Core temperature above threshold, cpu clock throttled (total events = {num})"),
            (6, "CPU{cpu}: Core temperature/speed normal"),
            (3, "x86/fpu: Supporting XSAVE feature 0x002: 'SSE registers'"),
            (3, "x86/fpu: Supporting XSAVE feature 0x004: 'AVX registers'"),
            (5, "igb 0000:03:00.0 {iface}: renamed from eth0"),
            (5, "device {iface} entered promiscuous mode"),
            (5, "docker0: port {small}({iface}) entered forwarding state"),
            (5, "docker0: port {small}({iface}) entered disabled state"),
            (3, "Memory cgroup out of memory: Killed process {pid} ({comm}) total-vm:{kb}, anon-rss:{kb}, file-rss:{kb}, shmem-rss:{kb}, UID:{uid} pgtables:{kb} oom_score_adj:{num}"),
        ],
    },
    "systemd": {
        "prog": "systemd",
        "formats": [
            (30, "Started {desc}."),
            (30, "Starting {desc}..."),
            (15, "Stopped {desc}."),
            (10, "Stopping {desc}..."),
            (20, "{unit}: Deactivated successfully."),
            (15, "{unit}: Consumed {consumed} CPU time."),
            (8, "{unit}: Main process exited, code=exited, status=1/FAILURE"),
            (6, "{unit}: Main process exited, code=killed, status=9/KILL"),
            (8, "{unit}: Failed with result 'exit-code'."),
            (4, "{unit}: Failed with result 'timeout'."),
            (6, "Failed to start {desc}."),
            (6, "{unit}: Scheduled restart job, restart counter is at {small}."),
            (12, "Reached target {target}."),
            (6, "Stopped target {target}."),
            (10, "Finished {desc}."),
            (6, "Created slice User Slice of UID {uid}."),
            (6, "Removed slice User Slice of UID {uid}."),
            (6, "Listening on {desc} Socket."),
            (12, "New session {session} of user {user}."),
            (12, "Removed session {session}."),
            (8, "Session {session} logged out. Waiting for processes to exit."),
            (4, "{unit}: Start request repeated too quickly."),
            (4, "{unit}: Killing process {pid} ({comm}) with signal SIGKILL."),
            (3, "Startup finished in {consumed} (kernel) + {consumed} (userspace) = {consumed}."),
            (4, "Condition check resulted in {desc} being skipped."),
        ],
    },
    "nginx": {
        "prog": None,
        "formats": [
            (30, "[error] {worker}: *{conn} open() \"{path}\" failed (2: No such file or directory), client: {ip}, server: {server}, request: \"{request}\", host: \"{server}\""),
            (12, "[error] {worker}: *{conn} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip}, server: {server}, request: \"{request}\", upstream: \"{upstream}\", host: \"{hostport}\""),
            (15, "[error] {worker}: *{conn} connect() failed (111: Connection refused) while connecting to upstream, client: {ip}, server: {server}, request: \"{request}\", upstream: \"{upstream}\", host: \"{hostport}\""),
            (8, "[error] {worker}: *{conn} client intended to send too large body: {bytes} bytes, client: {ip}, server: {server}, request: \"{request}\", host: \"{server}\""),
            (10, "[error] {worker}: *{conn} limiting requests, excess: {excess} by zone \"{zone}\", client: {ip}, server: {server}, request: \"{request}\", host: \"{server}\""),
            (6, "[warn] {worker}: *{conn} an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/{small}/{num}/{num} while reading upstream, client: {ip}, server: {server}, request: \"{request}\", upstream: \"{upstream}\", host: \"{server}\""),
            (8, "[crit] {worker}: *{conn} SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: {ip}, server: 0.0.0.0:443"),
            (8, "[info] {worker}: *{conn} client {ip} closed keepalive connection"),
            (6, "[info] {worker}: *{conn} recv() failed (104: Connection reset by peer) while reading response header from upstream, client: {ip}, server: {server}, request: \"{request}\", upstream: \"{upstream}\", host: \"{server}\""),
            (3, "[notice] {worker}: signal process started"),
            (3, "[notice] {worker}: using the \"epoll\" event method"),
            (3, "[notice] {worker}: start worker process {pid}"),
            (4, "[notice] {worker}: signal {small} (SIGCHLD) received from {pid}"),
            (4, "[notice] {worker}: worker process {pid} exited with code 0"),
            (5, "[warn] {worker}: *{conn} using uninitialized \"{zone}\" variable, client: {ip}, server: {server}, request: \"{request}\", host: \"{server}\""),
            (4, "[error] {worker}: *{conn} directory index of \"/var/www/html/\" is forbidden, client: {ip}, server: {server}, request: \"{request}\", host: \"{server}\""),
        ],
    },
    "apt": {
        "prog": None,
        "formats": [
            (20, "Packages that will be upgraded: {pkgs}"),
            (15, "Writing dpkg log to /var/log/unattended-upgrades/unattended-upgrades-dpkg.log"),
            (15, "All upgrades installed"),
            (10, "Starting unattended upgrades script"),
            (10, "Allowed origins are: origin=Debian,codename=bookworm,label=Debian-Security, origin=Debian,codename=bookworm-security,label=Debian-Security"),
            (8, "No packages found that can be upgraded unattended and no pending auto-removals"),
            (10, "Get:{small} http://deb.debian.org/debian bookworm/main amd64 {pkgs} [{size_h}]"),
            (8, "Fetched {size_h} in {elapsed} ({float1} kB/s)"),
            (6, "Need to get {size_h} of archives. After this operation, {size_h} of additional disk space will be used."),
            (5, "Removing {pkgs} ..."),
            (10, "Setting up {pkgs} ..."),
            (10, "Unpacking {pkgs} over older version ..."),
            (5, "Processing triggers for man-db (2.11.2-2) ..."),
            (4, "dpkg: warning: files list file for package '{pkgs}' missing; assuming package has no files currently installed"),
        ],
    },
}


def _stamp(i: int) -> str:
    return f"Dec  7 {9 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d}"


def main() -> None:
    meta = {}
    for k, (name, spec) in enumerate(DATASETS.items()):
        rnd = random.Random(1000 + k)
        val = _rng_values(rnd)
        formats = spec["formats"]
        assert isinstance(formats, list)
        weights = [w for w, _ in formats]
        lines, rows = [], []
        for i in range(N):
            e = rnd.choices(range(len(formats)), weights)[0]
            fmt = formats[e][1]
            msg = re.sub(r"\{(\w+)\}", lambda m, val=val: val[m.group(1)](), fmt)
            tmpl = re.sub(r"\{(\w+)\}", "<*>", fmt)
            if name == "postgresql":
                line = f"2026-12-07 09:{i // 60 % 60:02d}:{i % 60:02d}.{rnd.randrange(1000):03d} UTC [{rnd.randrange(300, 99999)}] {msg}"
            elif name == "nginx":
                line = f"2026/12/07 09:{i // 60 % 60:02d}:{i % 60:02d} {msg}"
            elif name == "apt":
                line = f"2026-12-07 09:{i // 60 % 60:02d}:{i % 60:02d},{rnd.randrange(1000):03d} INFO {msg}"
            else:
                pid = "" if spec["prog"] == "kernel" else f"[{rnd.randrange(300, 99999)}]"
                line = f"{_stamp(i)} {rnd.choice(['web-1', 'db-2', 'bastion'])} {spec['prog']}{pid}: {msg}"
            lines.append(line)
            rows.append((i + 1, f"E{e + 1}", tmpl))
        (HERE / f"{name}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
        with open(HERE / f"{name}_truth.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["LineId", "EventId", "EventTemplate"])
            w.writerows(rows)
        meta[name] = {"header_regex": {
            "postgresql": r"^\S+ \S+ UTC \[\d+\] (?P<body>.*)$",
            "nginx": r"^\S+ \S+ (?P<body>.*)$",
            "apt": r"^\S+ \S+ INFO (?P<body>.*)$",
        }.get(name, r"^\w{3} +\d+ \S+ \S+ [^:\s]+(?:\[\d+\])?: (?P<body>.*)$"), "lines": N,
            "events": len(formats)}
    (HERE / "datasets.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
