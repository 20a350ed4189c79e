"""`rpm api run|secret|set-password`: serve the care-team API and console, and set it up.

The session secret comes from RPM_API_SESSION_SECRET, else from <state dir>/secrets/api-session.secret,
which `rpm api secret` writes (mode 0600). Without either, `rpm api run` refuses to start.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path

from rpmctl.errors import CommandError

SECRET_FILE = "api-session.secret"
SECRET_ENV = "RPM_API_SESSION_SECRET"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="serve the API and the console (uvicorn)")
    run.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    run.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")
    run.add_argument(
        "--workers",
        type=_positive,
        default=default_workers(),
        help="server processes sharing the port (default: the number of cores, here %(default)s); each"
        " opens its share of RPM_API_POOL_MAX_SIZE connections",
    )
    run.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-* from a TLS proxy on loopback"
    )
    secret = sub.add_parser("secret", help="write a random session secret into the state directory")
    secret.add_argument(
        "--force", action="store_true", help="replace an existing secret (logs everybody out)"
    )
    pw = sub.add_parser("set-password", help="set a user's password (read from standard input or a prompt)")
    pw.add_argument("email")
    pw.add_argument("--database-url", help="default: RPM_DATABASE_URL, else the local stack's")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _positive(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError("give 1 to 64 workers")
    return number


def _secret_path() -> Path:
    from rpmctl.services.layout import StateLayout

    return StateLayout.from_environment().secrets_dir / SECRET_FILE


def _database_url(args: argparse.Namespace) -> str:
    if args.database_url:
        return str(args.database_url)
    from rpmctl.services.endpoints import resolve
    from rpmctl.services.layout import StateLayout

    return resolve(StateLayout.from_environment()).database_url


def write_secret(path: Path, *, force: bool) -> bool:
    """Create the secret file (0600); False when one exists and `force` is not given."""
    if path.exists() and not force:
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    return True


def load_settings(database_url: str):
    from pydantic import ValidationError

    from careteam_api.settings import ApiSettings

    secret = os.environ.get(SECRET_ENV)
    if not secret:
        path = _secret_path()
        try:
            secret = path.read_text().strip()
        except FileNotFoundError:
            raise CommandError(
                f"no session secret: {SECRET_ENV} is unset and {path} does not exist",
                fix="run `rpm api secret` once (or set RPM_API_SESSION_SECRET)",
            ) from None
    try:
        return ApiSettings(database_url=database_url, session_secret=secret)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CommandError(
            f"settings: {'.'.join(map(str, first['loc']))}: {first['msg']}", exit_code=2
        ) from exc


def run(args: argparse.Namespace) -> int:
    if args.action == "secret":
        path = _secret_path()
        if write_secret(path, force=args.force):
            print(f"wrote a new session secret to {path}")
        else:
            print(f"{path} exists; keeping it (use --force to replace it and log everybody out)")
        return 0
    if args.action == "set-password":
        return _set_password(args)
    import uvicorn

    settings = load_settings(_database_url(args))  # checked here, once, before any worker starts
    # Each worker process builds the app from the environment (uvicorn imports the factory by name).
    os.environ["RPM_API_DATABASE_URL"] = settings.database_url
    os.environ[SECRET_ENV] = settings.session_secret.get_secret_value()
    os.environ["RPM_API_WORKERS"] = str(args.workers)
    if args.workers == 1:
        uvicorn.run(
            "careteam_api.cli:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            proxy_headers=args.proxy_headers,
            log_level="info",
        )
        return 0
    return _serve_workers(args)


def _serve_workers(args: argparse.Namespace) -> int:
    """N single-process uvicorn servers, each accepting on its own socket bound to the same port with
    SO_REUSEPORT, so the kernel spreads connections evenly over them. (On one shared listening socket the
    process that happened to be waiting took most of them: 42 of 50 keep-alive clients on one of two
    workers, which then queued on its single core while the other idled.) The socket bound here, never
    listening, holds the port and makes a port in use fail before any worker starts. SIGTERM or SIGINT stops
    them all.
    """
    import signal
    import subprocess

    holder = _reuse_port_socket(args.host, _free_port(args.host, args.port))
    command = [
        sys.executable,
        "-c",
        "import sys; from careteam_api.cli import serve_port;"
        " serve_port(sys.argv[1], int(sys.argv[2]), sys.argv[3] == 'proxy')",
        args.host,
        str(holder.getsockname()[1]),
        "proxy" if args.proxy_headers else "direct",
    ]
    print(f"serving http://{args.host}:{args.port} with {args.workers} worker processes", flush=True)
    workers = [subprocess.Popen(command) for _ in range(args.workers)]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(w.poll() is None for w in workers):
            signal.sigtimedwait([signal.SIGCHLD], 1.0)
    finally:
        stop(signal.SIGTERM, None)
        codes = [_wait_or_kill(w) for w in workers]
        holder.close()
    return 0 if stopping else next((c for c in codes if c), 1)


def _wait_or_kill(worker, timeout: float = 30) -> int:
    """A worker's exit code; one that has not stopped `timeout` seconds after SIGTERM is killed."""
    import subprocess

    try:
        return worker.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        return worker.wait()


def _free_port(host: str, port: int) -> int:
    """`port` (or a free one for 0) after checking no socket holds it: the SO_REUSEPORT sockets of the
    workers would otherwise join those of another server already listening there and share its clients."""
    with _bound_socket(host, port, reuse_port=False) as probe:
        return probe.getsockname()[1]


def _reuse_port_socket(host: str, port: int):
    """A TCP socket bound to (host, port) with SO_REUSEPORT."""
    return _bound_socket(host, port, reuse_port=True)


def _bound_socket(host: str, port: int, *, reuse_port: bool):
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(
            f"cannot listen on {host}:{port}: {exc.strerror}", fix="choose another --port"
        ) from exc
    return sock


def serve_port(host: str, port: int, proxy_headers: bool) -> None:
    """One worker of `_serve_workers`: uvicorn on its own SO_REUSEPORT socket of the shared port."""
    import uvicorn

    sock = _reuse_port_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config(
        "careteam_api.cli:app_from_environment",
        factory=True,
        proxy_headers=proxy_headers,
        log_level="info",
    )
    uvicorn.Server(config).run(sockets=[sock])


# A request allocates thousands of short-lived containers (rows, dicts, frames): with the default first
# threshold (700) the collector ran several times per request. Cycles are rare in these objects; a larger
# first generation collects the same garbage less often.
GC_FIRST_GENERATION = 20_000


def app_from_environment():
    """The app of one uvicorn worker, from the RPM_API_* variables `run` set."""
    import gc

    from careteam_api.app import create_app
    from careteam_api.settings import ApiSettings

    app = create_app(ApiSettings())
    # What start-up built (modules, routes, templates) lives as long as the process: out of the collector's
    # sight, the older generations have little left to traverse.
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    return app


def _set_password(args: argparse.Namespace) -> int:
    import psycopg

    from careteam_api.auth.passwords import hash_password

    password = (
        sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass("new password: ")
    )
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise CommandError(str(exc), exit_code=2) from exc
    with psycopg.connect(_database_url(args)) as conn:
        done = conn.execute(
            "UPDATE users SET password_hash = %s WHERE lower(email) = lower(%s)", (hashed, args.email)
        )
        if done.rowcount == 0:
            raise CommandError(f"no user with e-mail {args.email!r}", exit_code=2)
    print(f"password set for {args.email}")
    return 0
