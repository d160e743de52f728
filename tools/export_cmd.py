"""`bodycam-evidence export DIR -i IDENTITY -o OUT.mp4`: one court-ready MP4 per recording.

Order of work, each step a precondition of the next:

1. verify the recording (signed manifest chain, every segment's hash); an integrity
   failure, or a recording that is not sealed (its end may be missing), refuses the
   export unless --force, and a forced export says so in its report;
2. decrypt every segment in memory (no plaintext temp files: the only plaintext written
   is the MP4 that is the purpose of the export, created readable by the custodian only,
   mode 0600, and removed again if the export fails); a segment that recovery marked as cut
   short by power loss is salvaged up to its last whole chunk, and the report says so;
3. join the segments by remuxing (stream copy: the court gets the camera's own H.264 and
   AAC bits, nothing re-encoded) into an MP4 with the index at the front (+faststart);
   segment timestamps are already continuous on the recording's timeline;
4. write OUT.report.json: verification result, SHA-256 of every input file and of the
   output, salvage notes, tool version.

Exit codes: 0 exported, 1 verification failure (without --force) or decryption failure,
2 usage (bad arguments, unreadable identity, OUT already exists).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bodycam.firmware import __version__
from bodycam.firmware.evidence.age import AgeError, PayloadError, TruncatedError, decrypt
from bodycam.firmware.evidence.agekeys import read_identity_file
from bodycam.firmware.evidence.device_key import parse_public_key
from bodycam.firmware.evidence.salvage import segment_files
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import VerifyReport, verify_recording

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
TOOL = "bodycam-evidence export"


class ExportError(Exception):
    """A failure that ends the export with EXIT_FAILED (message names problem and fix)."""


class UsageError(Exception):
    pass


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR",
                        help="the recording directory (evidence/<recording-id>/)")
    parser.add_argument("-i", "--identity", type=Path, action="append", required=True,
                        metavar="IDENTITY",
                        help="the authority's identity file (AGE-SECRET-KEY-1...); repeat "
                             "to try several")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.mp4",
                        help="the MP4 to create (must not exist); the report goes next to "
                             "it as OUT.report.json")
    parser.add_argument("--device-key", metavar="KEY",
                        help="pin the camera's public signing key (base64, or a file "
                             "holding it), as for `verify`")
    parser.add_argument("--force", action="store_true",
                        help="export even if verification fails or a segment is damaged; "
                             "the report records that the export was forced and why")


def run(args: argparse.Namespace) -> int:
    try:
        job = ExportJob.from_args(args)
    except UsageError as exc:
        print(f"{TOOL}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        job.run()
    except ExportError as exc:
        print(f"{TOOL}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"exported {job.output} ({job.report_path.name})", file=sys.stderr)
    return EXIT_OK


@dataclass(frozen=True)
class SegmentSource:
    index: int
    file: str
    salvage: bool  # recovery found it cut short: decrypt up to the last whole chunk
    whole_chunks: int | None = None  # as recovery counted them (None: not salvaged)

    @property
    def empty(self) -> bool:
        """Cut before its first whole chunk: no media of it exists anywhere."""
        return self.salvage and self.whole_chunks == 0


@dataclass
class ExportJob:
    directory: Path
    output: Path
    identities: list[X25519PrivateKey]
    pinned: Ed25519PublicKey | None
    force: bool
    notes: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def report_path(self) -> Path:
        return self.output.with_suffix(".report.json")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExportJob:
        directory: Path = args.directory
        output: Path = args.output
        if not directory.is_dir():
            raise UsageError(f"{directory} is not a directory; give evidence/<recording-id>/")
        for path in (output, output.with_suffix(".report.json")):
            if path.exists():
                raise UsageError(f"{path} already exists; choose another OUT or move it away")
        try:
            identities = [key for path in args.identity for key in read_identity_file(path)]
        except OSError as exc:
            raise UsageError(f"cannot read identity file {exc.filename}: {exc.strerror}") \
                from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        pinned = None
        if args.device_key is not None:
            text = args.device_key
            if Path(text).is_file():
                text = Path(text).read_text(encoding="utf-8", errors="replace")
            try:
                pinned = parse_public_key(text)
            except ValueError as exc:
                raise UsageError(f"--device-key: {exc}") from None
        return cls(directory, output, identities, pinned, args.force)

    def run(self) -> None:
        report = verify_recording(self.directory, self.pinned)
        self._check_verification(report)
        sources = self._segment_sources()
        if not sources:
            raise ExportError(f"{self.directory} holds no segments: nothing to export")
        partial = self.output.with_name(self.output.name + ".partial")
        _create_private(partial)
        try:
            summary = self._join(sources, partial)
            os.replace(partial, self.output)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self._write_report(report, summary)

    def _check_verification(self, report: VerifyReport) -> None:
        _progress(f"verification: {report.status}")
        if report.status == "failed":
            problems = "; ".join(str(p) for p in report.problems[:3])
            if not self.force:
                raise ExportError(
                    f"verification failed ({problems}); the recording may have been altered. "
                    "Run `bodycam-evidence verify` for details; --force exports anyway and "
                    "records this in the report")
            self.notes.append(f"FORCED export despite failed verification: {problems}")
        elif report.status == "unsealed":
            problem = ("the recording is not sealed, so it may be incomplete (the camera lost "
                       "power and has not run recovery yet, or its end was cut off)")
            if not self.force:
                raise ExportError(
                    f"{problem}. Fix: let the camera restart (its recovery seals the "
                    "recording) and offload it again; --force exports what is there and "
                    "records this in the report")
            self.notes.append(f"FORCED export of an unsealed recording: {problem}")

    def _segment_sources(self) -> list[SegmentSource]:
        """Segments in index order, from the manifest (the verified source of truth)."""
        manifest = self.directory / MANIFEST_NAME
        records = read_records(manifest) if manifest.is_file() else []
        by_index: dict[int, SegmentSource] = {}
        for record in records:
            event, index, name = record.get("event"), record.get("index"), record.get("file")
            if not isinstance(index, int) or not isinstance(name, str) or not name:
                continue
            if event == "segment":
                by_index[index] = SegmentSource(index, name, salvage=False)
            elif event == "recovery" and index not in by_index:
                chunks = record.get("whole_chunks")
                by_index[index] = SegmentSource(
                    index, name, salvage=record.get("state") == "truncated",
                    whole_chunks=chunks if isinstance(chunks, int) else None)
        if not by_index and self.force:
            self.notes.append("no usable segment records in the manifest: exported the "
                              "segment files found in the directory")
            by_index = {i: SegmentSource(i, name, salvage=True)
                        for i, name in segment_files(self.directory)}
        return [by_index[i] for i in sorted(by_index)]

    def _join(self, sources: Sequence[SegmentSource], out: Path) -> dict[str, Any]:
        total = sum((self.directory / s.file).stat().st_size for s in sources
                    if (self.directory / s.file).is_file())
        done = 0
        with _Mp4Joiner(out) as joiner:
            self._declare_streams(joiner, sources)
            for number, source in enumerate(sources, 1):
                path = self.directory / source.file
                if not path.is_file():
                    self._fail_or_note(f"segment {source.index} ({source.file}) is missing")
                    continue
                entry = self._input_entry(source, path)
                if source.empty:
                    self.notes.append(
                        f"segment {source.index} ({source.file}): no media survived (power "
                        "was lost before its first whole 64 KiB chunk reached the card)")
                else:
                    plaintext = self._decrypt(source, path, entry)
                    try:
                        joiner.add(plaintext, source.file)
                    except ExportError as exc:
                        self._fail_or_note(str(exc))
                done += path.stat().st_size
                _progress(f"segment {number}/{len(sources)} {source.file}: "
                          f"{100 * done // max(total, 1)}%")
            summary = joiner.summary()
        if summary["dropped_packets"]:
            self.notes.append(f"{summary['dropped_packets']} packet(s) overlapping the "
                              "previous segment were skipped")
        return summary

    def _declare_streams(self, joiner: _Mp4Joiner, sources: Sequence[SegmentSource]) -> None:
        """Give the MP4 every stream the recording has, before its header is written.

        A segment can declare a stream without holding any of its packets (audio is not
        kept in the pre-record buffer; a stalled microphone), and then its codec
        parameters are unknown. So look ahead, segment by segment, until each stream type
        has been seen with packets; usually the first one or two segments suffice.
        """
        for source in sources:
            path = self.directory / source.file
            if source.empty or not path.is_file():
                continue
            buffer = io.BytesIO()
            try:
                with path.open("rb") as src:
                    decrypt(self.identities, src, buffer, allow_truncated=True)
            except AgeError:
                pass  # reported with its details when the segment is joined
            if joiner.declare(buffer.getvalue()):
                return

    def _input_entry(self, source: SegmentSource, path: Path) -> dict[str, Any]:
        """The report's record of one input file (every one is hashed, used or not)."""
        entry: dict[str, Any] = {"file": source.file, "index": source.index,
                                 "size": path.stat().st_size, "sha256": _sha256(path)}
        self.inputs.append(entry)
        return entry

    def _decrypt(self, source: SegmentSource, path: Path, entry: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        try:
            with path.open("rb") as src:
                result = decrypt(self.identities, src, buffer, allow_truncated=source.salvage)
        except (PayloadError, TruncatedError) as exc:
            self._fail_or_note(f"segment {source.index} ({source.file}) is damaged: {exc}")
            self.notes.append(f"segment {source.index}: kept the {buffer.tell()} verified "
                              "bytes before the damage")
            entry["salvaged_bytes"] = buffer.tell()
            return buffer.getvalue()
        except AgeError as exc:
            raise ExportError(f"cannot decrypt {source.file}: {exc}") from None
        if result.truncated:
            entry["salvaged_bytes"] = result.plaintext_bytes
            self.notes.append(
                f"segment {source.index} ({source.file}) was cut short by power loss: "
                f"salvaged {result.chunks} whole chunk(s), {result.plaintext_bytes} bytes; "
                "the media after that was never stored")
        return buffer.getvalue()

    def _fail_or_note(self, problem: str) -> None:
        if not self.force:
            raise ExportError(f"{problem}; --force exports the rest and records this")
        self.notes.append(f"FORCED past: {problem}")

    def _write_report(self, report: VerifyReport, summary: dict[str, Any]) -> None:
        manifest = self.directory / MANIFEST_NAME
        document = {
            "tool": TOOL, "tool_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "recording": report.recording_id or self.directory.name, "forced": self.force,
            "verification": report.to_json(),
            "manifest": ({"file": MANIFEST_NAME, "sha256": _sha256(manifest)}
                         if manifest.is_file() else None),
            "segments": self.inputs,
            "output": {"file": self.output.name, "size": self.output.stat().st_size,
                       "sha256": _sha256(self.output), **summary},
            "notes": self.notes,
        }
        self.report_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")


class _Mp4Joiner:
    """Remuxes consecutive MPEG-TS segments into one MP4 (stream copy, no re-encode).

    Timestamps are kept as the camera wrote them (one timeline across segments), shifted
    so the MP4 starts at zero; a packet that would go backwards (overlap at a segment
    boundary) is skipped and counted.
    """

    def __init__(self, path: Path) -> None:
        self._container: Any = av.open(str(path), "w", format="mp4",
                                       options={"movflags": "+faststart"})
        self._streams: dict[str, Any] = {}
        self._codecs: dict[str, str] = {}
        self._base: float | None = None  # seconds subtracted from every timestamp
        self._last_dts: dict[str, int] = {}
        self._first_end: dict[str, tuple[float, float]] = {}
        self.dropped = 0

    def __enter__(self) -> _Mp4Joiner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def declare(self, ts: bytes) -> bool:
        """Add output streams for the stream types that have packets in `ts`.

        Returns True once every stream type `ts` declares has an output stream."""
        try:
            with av.open(io.BytesIO(ts), "r", format="mpegts") as segment:
                streams = [s for s in segment.streams if s.type in ("video", "audio")]
                with_packets = {p.stream.type for p in segment.demux(streams) if p.size}
                for stream in streams:
                    if stream.type in with_packets and stream.type not in self._streams:
                        self._streams[stream.type] = \
                            self._container.add_stream_from_template(stream)
                        self._codecs[stream.type] = stream.codec_context.name
                return all(s.type in self._streams for s in streams)
        except av.error.FFmpegError:
            return False

    def add(self, ts: bytes, label: str) -> None:
        try:
            with av.open(io.BytesIO(ts), "r", format="mpegts") as segment:
                streams = [s for s in segment.streams if s.type in ("video", "audio")]
                packets = [p for p in segment.demux(streams) if p.dts is not None and p.size]
                if self._base is None and packets:
                    # audio priming starts before the first picture: the earliest
                    # packet of the recording, whatever its stream, becomes time zero
                    self._base = min(float((p.dts or 0) * p.time_base) for p in packets)
                for packet in packets:
                    self._mux(packet)
        except av.error.FFmpegError as exc:
            raise ExportError(f"{label} holds no readable MPEG-TS ({exc})") from None

    def _mux(self, packet: Any) -> None:
        kind = packet.stream.type
        out = self._streams.get(kind)
        if out is None or self._base is None:
            return  # a stream type the first segment did not have
        tb = packet.time_base
        shift = round(self._base / tb)
        packet.dts -= shift
        if packet.pts is not None:
            packet.pts -= shift
        if kind in self._last_dts and packet.dts <= self._last_dts[kind]:
            self.dropped += 1
            return
        self._last_dts[kind] = packet.dts
        pts = packet.pts if packet.pts is not None else packet.dts
        start = self._first_end[kind][0] if kind in self._first_end else float(pts * tb)
        self._first_end[kind] = (start, float((pts + (packet.duration or 0)) * tb))
        packet.stream = out
        self._container.mux(packet)

    def summary(self) -> dict[str, Any]:
        return {
            "streams": {kind: {"codec": self._codecs[kind],
                               "start_s": round(self._first_end[kind][0], 6),
                               "end_s": round(self._first_end[kind][1], 6)}
                        for kind in self._streams if kind in self._first_end},
            "dropped_packets": self.dropped,
        }


def _create_private(path: Path) -> None:
    """Create the (empty) plaintext output with mode 0600 before libav opens it.

    libav creates files with mode 0666 minus the umask (often world-readable); opening
    an existing file keeps its mode, so the MP4 is private from its first byte.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        raise ExportError(f"{path} exists (left by an interrupted export; it holds "
                          "plaintext). Fix: delete it securely, then export again") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
