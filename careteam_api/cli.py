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
    """N single-process uvicorn servers accepting on one listening socket bound here (`uvicorn --fd`).

    Each worker wraps the inherited descriptor in a socket of its real family, so asyncio sets TCP_NODELAY on
    accepted connections (`uvicorn --fd` assumes a Unix socket, and its --workers supervisor showed the
    same symptom here: every response held back ~40 ms by Nagle and delayed ACKs). SIGTERM or SIGINT
    stops them all.
    """
    import signal
    import socket
    import subprocess

    listener = socket.create_server((args.host, args.port), backlog=2048)
    listener.set_inheritable(True)
    command = [
        sys.executable,
        "-c",
        "import sys; from careteam_api.cli import serve_socket;"
        " serve_socket(int(sys.argv[1]), sys.argv[2] == 'proxy')",
        str(listener.fileno()),
        "proxy" if args.proxy_headers else "direct",
    ]
    print(f"serving http://{args.host}:{args.port} with {args.workers} worker processes", flush=True)
    workers = [subprocess.Popen(command, pass_fds=[listener.fileno()]) for _ in range(args.workers)]
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
        codes = [w.wait(timeout=30) for w in workers]
        listener.close()
    return 0 if stopping else next((c for c in codes if c), 1)


def serve_socket(fd: int, proxy_headers: bool) -> None:
    """One worker of `_serve_workers`: uvicorn on the inherited listening socket."""
    import socket

    import uvicorn

    config = uvicorn.Config(
        "careteam_api.cli:app_from_environment",
        factory=True,
        proxy_headers=proxy_headers,
        log_level="info",
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


def app_from_environment():
    """The app of one uvicorn worker, from the RPM_API_* variables `run` set."""
    from careteam_api.app import create_app
    from careteam_api.settings import ApiSettings

    return create_app(ApiSettings())


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
