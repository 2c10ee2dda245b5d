import random
import subprocess
import time

rnd = random.Random(22)
USERS = ["admin", "test", "oracle", "ubuntu", "guest", "postgres", "deploy", "git", "ftpuser", "support", "jenkins", "webmaster", "pi", "user1", "mysql", "hadoop"]
BASE = ["ssh", "-p", "22020", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=QUIET"]
n, t_end = 0, time.time() + 240
while n < 700 and time.time() < t_end:
    n += 1
    k = rnd.random()
    if k < 0.30:
        cmd = ["sshpass", "-p", rnd.choice(["123456", "password", "admin"]), *BASE,
               "-o", "PubkeyAuthentication=no", "-o", f"NumberOfPasswordPrompts={rnd.randint(1, 3)}",
               f"{rnd.choice(USERS)}@127.0.0.1", "true"]
    elif k < 0.45:
        cmd = ["sshpass", "-p", "toor", *BASE, "-o", "PubkeyAuthentication=no", "root@127.0.0.1", "true"]
    elif k < 0.75:
        cmd = [*BASE, "-i", "/tmp/real20/ssh/client", "-o", "BatchMode=yes", "root@127.0.0.1",
               rnd.choice(["true", "uptime", "id"])]
    elif k < 0.85:
        cmd = [*BASE, "-i", "/tmp/real20/ssh/client_rsa", "-o", "BatchMode=yes", "root@127.0.0.1", "true"]
    elif k < 0.92:
        cmd = [*BASE, "-i", "/tmp/real20/ssh/client", "-o", "BatchMode=yes", "nobody@127.0.0.1", "true"]
    else:
        # a scanner: connects and says nothing useful
        cmd = ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22020; echo " + rnd.choice(["GET / HTTP/1.0", "SSH-2.0-Go", ""]) + " >&3; timeout 1 cat <&3 >/dev/null"]
    subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
print(n)
