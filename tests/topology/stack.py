"""The production topology on one machine, without containers.

nginx (deploy/nginx/, the files the compose image uses) in front of N web processes
(ops/serve.py) on the production settings, a Celery worker, and a PostgreSQL and a Redis of
the stack's own on ports of its own, so faults can stop and restart them without touching
anyone else's. Used by
the topology test stage (tests/topology/) and by bench/interview_relay.py --nginx.

Ports: MGE_TOPOLOGY_PORT_BASE (default 18740) and the next nine.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
SECRET = "topology-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"
METRICS_TOKEN = "topology-metrics-token"  # noqa: S105 - a throwaway for a local stack
HOST = "localhost"


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def wait_for_closed(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} still answers after {timeout} s")


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL under /usr/lib/postgresql (scripts/services.sh)")
    return versions[-1]


def as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse root; run them as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def default_port_base() -> int:
    return int(os.environ.get("MGE_TOPOLOGY_PORT_BASE", "18740"))


@dataclass
class Ports:
    base: int

    def __getattr__(self, name: str) -> int:
        names = ["http", "https", "redis", "postgres", "llm", "worker_metrics"]
        if name in names:
            return self.base + names.index(name)
        if name.startswith("web"):
            return self.base + 6 + int(name[3:])
        raise AttributeError(name)


@dataclass
class Stack:
    webs: int = 2
    llm_port: int | None = None  # an LLM server the caller runs; None: start the fake one
    token_delay: float = 0.02
    worker: bool = True
    port_base: int = field(default_factory=default_port_base)
    extra_env: dict[str, str] = field(default_factory=dict)
    server: str = "uvicorn"  # MGE_WEB_SERVER for the web processes (ops/serve.py)

    def __post_init__(self) -> None:
        self.ports = Ports(self.port_base)
        self.dir = Path(tempfile.mkdtemp(prefix="mge-topology-"))
        self.dir.chmod(0o755)  # postgres and nginx's workers must reach their folders
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.procs: dict[str, subprocess.Popen] = {}

    # --- the whole stack ---

    def start(self) -> "Stack":
        self.redis_start()
        self.postgres_init()
        self.postgres_start()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("collectstatic", "--noinput", "-v0")
        if self.llm_port is None:
            self.llm_port = self.ports.llm
            self.spawn("llm", self.fake_llm_command())
            wait_for_port(self.llm_port)
        for index in range(self.webs):
            self.web_start(index)
        if self.worker:
            self.worker_start()
        self.nginx_start()
        return self

    def stop(self) -> None:
        for name in reversed(list(self.procs)):  # nginx and the apps before their services
            self.terminate(name)
        kept = ROOT / "test-artifacts" / "topology-logs"  # for reading after a failure
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(self.logs, kept)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def ensure_running(self) -> None:
        """Start again whatever a fault left stopped."""
        if "redis" not in self.procs:
            self.redis_start()
        if "postgres" not in self.procs:
            self.postgres_start()
        for index in range(self.webs):
            if f"web{index}" not in self.procs:
                self.web_start(index)
        if self.worker and "worker" not in self.procs:
            self.worker_start()

    # --- processes ---

    def spawn(self, name: str, command: list[str], env: dict | None = None) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            command, cwd=ROOT, env=env or self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str) -> None:
        """kill -9: no cleanup, no goodbye, as when a machine or container dies."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def terminate(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return {
            **keep,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": SECRET,
            "ALLOWED_HOSTS": f"{HOST},127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"https://{HOST}:{self.ports.https}",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.ports.redis}/0",
            "LLM_BASE_URL": f"http://127.0.0.1:{self.llm_port or self.ports.llm}/v1",
            "LLM_API_KEY": "topology",
            "LLM_MODEL": "fake-model",
            "LLM_TIMEOUT_SECONDS": "5",
            "LLM_STREAM_IDLE_SECONDS": "5",
            "LLM_STREAM_TOTAL_SECONDS": "20",
            "LLM_MAX_RETRIES": "1",
            "LLM_RETRY_BASE_SECONDS": "0.05",
            "MGE_TRUSTED_PROXY_COUNT": "1",
            "MGE_CHAT_RATE_PER_MINUTE": "100000",
            "MGE_METRICS_TOKEN": METRICS_TOKEN,
            "MGE_DEDUPE_ON_CONFIRM": "false",
            "MGE_EXPORT_ROOT": str(self.dir / "exports"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def django(self, script: str) -> object:
        """Run a Python snippet with Django set up against the stack; it prints one JSON."""
        code = f"import django, json\ndjango.setup()\n{script}"
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=self.env(), capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    def fake_llm_command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tests.fakes.openai_server",
            "--port",
            str(self.ports.llm),
            "--token-delay",
            str(self.token_delay),
            "--stamp-tokens",
        ]

    # --- web ---

    def web_start(self, index: int) -> None:
        port = getattr(self.ports, f"web{index}")
        command = [sys.executable, "-m", "ops.serve", "--host", "127.0.0.1", "--port", str(port)]
        self.spawn(f"web{index}", command, env={**self.env(), "MGE_WEB_SERVER": self.server})
        wait_for_port(port)

    def web_kill(self, index: int) -> None:
        self.kill(f"web{index}")
        wait_for_closed(getattr(self.ports, f"web{index}"))

    # --- worker ---

    def worker_start(self) -> None:
        env = {
            **self.env(),
            "CELERY_VISIBILITY_TIMEOUT": "8",
            "CELERY_UNACKED_RESTORE_INTERVAL": "2",
            "MGE_JOB_STALE_SECONDS": "6",
            "MGE_WORKER_METRICS_PORT": str(self.ports.worker_metrics),
        }
        command = [sys.executable, "-m", "celery", "-A", "config", "worker"]
        options = ["--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        self.spawn("worker", [*command, *options], env=env)
        wait_for_port(self.ports.worker_metrics)

    # --- Redis ---

    def redis_start(self) -> None:
        data = self.dir / "redis"
        data.mkdir(exist_ok=True)
        command = ["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1"]
        durable = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.spawn("redis", [*command, *durable, "--dir", str(data)])
        wait_for_port(self.ports.redis)

    def redis_stop(self) -> None:
        self.terminate("redis")
        wait_for_closed(self.ports.redis)

    # --- PostgreSQL ---

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports.postgres}/mge"

    def postgres_init(self) -> None:
        data = self.dir / "pg"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        initdb = [str(postgres_bin() / "initdb"), "-D", str(data), "-U", "postgres"]
        subprocess.run(
            as_postgres([*initdb, "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )

    def postgres_start(self) -> None:
        command = [str(postgres_bin() / "postgres"), "-D", str(self.dir / "pg")]
        options = ["-p", str(self.ports.postgres), "-k", str(self.dir / "pg"), "-h", "127.0.0.1"]
        tuning = ["-c", "fsync=off", "-c", "max_connections=200"]
        self.spawn("postgres", as_postgres([*command, *options, *tuning]))
        wait_for_port(self.ports.postgres)
        self.postgres_create_database()

    def postgres_create_database(self) -> None:
        import psycopg

        url = f"postgres://postgres@127.0.0.1:{self.ports.postgres}/postgres"
        for _ in range(50):
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname='mge'"
                    ).fetchone()
                    if not exists:
                        conn.execute("CREATE DATABASE mge")
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not accept connections")

    def postgres_stop(self) -> None:
        self.terminate("postgres")
        wait_for_closed(self.ports.postgres)

    # --- nginx ---

    def nginx_start(self) -> None:
        conf = self.nginx_configure()
        self.spawn("nginx", ["nginx", "-p", str(self.dir), "-c", str(conf)])
        wait_for_port(self.ports.https)

    def nginx_configure(self) -> Path:
        """The compose image's template and a generated upstream of our web processes."""
        certs = self.dir / "certs"
        certs.mkdir(exist_ok=True)
        self.certificate(certs)
        values = {
            "MGE_HTTP_PORT": str(self.ports.http),
            "MGE_HTTPS_PORT": str(self.ports.https),
            "MGE_CERT_DIR": str(certs),
            "MGE_STATIC_ROOT": str(ROOT / "staticfiles"),  # collectstatic's STATIC_ROOT
        }
        site = (NGINX_DIR / "mge.conf.template").read_text()
        for name, value in values.items():  # envsubst with exactly these names
            site = site.replace("${" + name + "}", value)
        (self.dir / "mge.conf").write_text(site)
        (self.dir / "upstream.conf").write_text(self.upstream())
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_MAIN.format(dir=self.dir))
        subprocess.run(["nginx", "-t", "-p", str(self.dir), "-c", str(conf)], check=True)
        return conf

    def upstream(self) -> str:
        compose = (NGINX_DIR / "upstream.conf").read_text()
        servers = "".join(
            f"    server 127.0.0.1:{getattr(self.ports, f'web{i}')} max_fails=0;\n"
            for i in range(self.webs)
        )
        line = "    server web:8000 max_fails=0;\n"
        assert line in compose, "deploy/nginx/upstream.conf changed shape"
        return compose.replace(line, servers)

    def certificate(self, certs: Path) -> None:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={HOST}",
                "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip

    # --- addresses ---

    @property
    def https(self) -> str:
        return f"https://{HOST}:{self.ports.https}"

    @property
    def wss(self) -> str:
        return f"wss://{HOST}:{self.ports.https}"


NGINX_MAIN = """\
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {dir}/nginx.pid;
error_log {dir}/logs/nginx-error.log warn;
events {{
    worker_connections 10000;
}}
http {{
    include /etc/nginx/mime.types;
    access_log {dir}/logs/nginx-access.log;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    include {dir}/upstream.conf;
    include {dir}/mge.conf;
}}
"""
