"""Fixtures of the evidence server's tests: real parts everywhere.

- `backend`: the three storage set-ups every server test runs on: SQLite + blob folder
  (the embedded default), a real PostgreSQL cluster the harness starts itself
  (initdb/pg_ctl) + blob folder, and SQLite + S3 on moto's emulator in server mode.
- `camera`: a real recording made by the project's Recorder into a real evidence store
  (age-encrypted to a key made by age-keygen, signed by a session key certified by a
  software device key) and a signed audit log, with the identity text the camera prints.
- `server`: an initialised data directory for `backend` with the camera enrolled;
  `server.serve()` starts a real `bodycam-server serve` over HTTPS on loopback.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from export_support import recorded
from media_fixtures import clip
from offload_client import OffloadClient
from server_rig import ServeProcess, run_server
from test_evidence_support import AgeIdentity, age_identity, make_store, new_session

from bodycam.firmware.device.identity import identity_text
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog
from bodycam.hal.clocks import ManualClock
from bodycam.server.database.engine import Database
from bodycam.server.people import accounts
from bodycam.server.people.passwords import hash_password
from bodycam.tools.dev.moto_s3 import CREDENTIALS, MotoS3
from bodycam.tools.dev.ports import free_port
from bodycam.tools.dev.postgres import PostgresCluster

BACKENDS = ("sqlite", "postgresql", "s3")


@pytest.fixture(scope="session", autouse=True)
def password_hashed_once() -> Iterator[None]:
    """Accounts the tests add in this process (add_user) get their password's argon2id
    hash made once per password: a real hash at the production parameters, reused with
    its salt. The tests add hundreds of people with one password (people_rig.PASSWORD),
    and each hash costs ~0.2 s of CPU on every core it finds. Verifying, sign-in,
    re-hashing and password changes run unchanged; no test looks at a salt."""
    made: dict[str, str] = {}

    def hash_once(password: str) -> str:
        if password not in made:
            made[password] = hash_password(password)
        return made[password]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "hash_password", hash_once)
        yield


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoS3]:
    with MotoS3() as emulator:
        yield emulator


@dataclass(frozen=True)
class Backend:
    name: str
    init_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def make_backend(name: str, request: pytest.FixtureRequest) -> Backend:
    tag = secrets.token_hex(4)
    if name == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return Backend(name, ("--database", cluster.create_database(f"t{tag}")))
    if name == "s3":
        emulator: MotoS3 = request.getfixturevalue("moto")
        bucket = f"evidence-{tag}"
        boto3.client("s3", endpoint_url=emulator.endpoint, **_boto_credentials()
                     ).create_bucket(Bucket=bucket)
        return Backend(name, ("--blobs", f"s3://{bucket}/agency",
                              "--s3-endpoint", emulator.endpoint), dict(CREDENTIALS))
    return Backend(name)


def _boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    return make_backend(request.param, request)


@dataclass
class Camera:
    """A camera's card after a sealed recording, and what it says about itself."""

    key: SessionKey
    device_id: str
    data_dir: Path
    recording: Path
    audit: Path
    authority: AgeIdentity
    clock: ManualClock

    @property
    def identity(self) -> str:
        return identity_text(self.device_id, "software", self.key.device_key)

    def audit_log(self) -> SignedLog:
        return SignedLog.open(self.audit, self.key, self.clock)


def make_camera(directory: Path, seconds: float = 6.0, segment_seconds: float = 2.0
                ) -> Camera:
    directory.mkdir(parents=True, exist_ok=True)
    authority = age_identity(directory)
    clock = ManualClock(start_monotonic=50.0)
    key = new_session()
    store = make_store(directory, authority, clock, key)
    recording = recorded(store, clock, clip(seconds), segment_seconds)  # type: ignore[arg-type]
    audit = directory / "data" / "audit" / "audit.jsonl"
    audit.parent.mkdir(parents=True, exist_ok=True)
    with SignedLog.open(audit, key, clock) as log:
        log.append("boot", firmware="0.1.0")
        log.append("recording_sealed", recording_id=recording.name)
    return Camera(key, "BC-0001", directory / "data", recording, audit, authority, clock)


@pytest.fixture(scope="session")
def recorded_camera(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Camera]:
    """Recorded once per session (the Recorder encodes for real); each test gets a copy."""
    directory = tmp_path_factory.mktemp("recorded") / "camera"
    return directory, make_camera(directory)


@pytest.fixture
def camera(tmp_path: Path, recorded_camera: tuple[Path, Camera]) -> Camera:
    """A card of its own for each test (tests append to its audit log)."""
    source, template = recorded_camera
    target = tmp_path / "camera"
    shutil.copytree(source, target)

    def moved(path: Path) -> Path:
        return target / path.relative_to(source)

    authority = AgeIdentity(moved(template.authority.identity_file),
                            template.authority.recipient)
    return Camera(template.key, template.device_id, moved(template.data_dir),
                  moved(template.recording), moved(template.audit), authority, template.clock)


@dataclass
class Server:
    """A data directory on `backend`; serve() starts processes on it."""

    data_dir: Path
    backend: Backend
    processes: list[ServeProcess] = field(default_factory=list)

    def run(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        result = run_server(*args, "--data-dir", str(self.data_dir), env=self.backend.env,
                            check=check)
        return result.returncode, result.stdout, result.stderr

    def enrol(self, camera: Camera) -> None:
        path = self.data_dir.parent / f"{camera.device_id}-IDENTITY.txt"
        path.write_text(camera.identity, newline="")
        self.run("device", "enrol", str(path))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.data_dir / "identity" / "tls-ca.pem"

    port: int = 0

    def serve(self, port: int | None = None, *args: str) -> ServeProcess:
        process = ServeProcess(self.data_dir, port or self.port, dict(self.backend.env), args)
        self.processes.append(process)
        return process.start()

    def client(self, camera: Camera, port: int | None = None) -> OffloadClient:
        url = f"https://127.0.0.1:{port or self.port}"
        return OffloadClient(url, self.ca, camera.key, camera.device_id, origin=self.url)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def stored_objects(self) -> list[str]:
        """Every blob and piece in the store (folder or S3), to see what was kept."""
        args = self.backend.init_args
        if "--blobs" in args:
            bucket, _, prefix = args[args.index("--blobs") + 1].removeprefix("s3://").partition("/")
            endpoint = args[args.index("--s3-endpoint") + 1]
            client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
            listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
            return sorted(item["Key"] for item in listed.get("Contents", []))
        root = self.data_dir / "blobs"
        return sorted(str(p.relative_to(root)) for part in ("blobs", "pieces")
                      for p in (root / part).rglob("*") if p.is_file())

    def database(self) -> Database:
        args = self.backend.init_args
        url = (args[args.index("--database") + 1] if "--database" in args
               else f"sqlite:///{self.data_dir / 'server.db'}")
        return Database(url)


def make_server(directory: Path, backend: Backend) -> Server:
    """`bodycam-server init` for 127.0.0.1 on a free port (the URL cameras sign for)."""
    port = free_port()
    server = Server(directory / "server", backend, port=port)
    run_server("init", "--data-dir", str(server.data_dir), "--url", f"https://127.0.0.1:{port}",
               *backend.init_args, env=backend.env)
    return server


@pytest.fixture
def server(tmp_path: Path, backend: Backend, camera: Camera) -> Iterator[Server]:
    rig = make_server(tmp_path, backend)
    rig.enrol(camera)
    yield rig
    rig.stop()
