"""`bodycam-evidence export DIR -i IDENTITY -o OUT.mp4`: one court-ready MP4 per recording.

Order of work, each step a precondition of the next:

1. verify the recording (signed manifest chain, every segment's hash); an integrity
   failure, or a recording that is not sealed (its end may be missing), refuses the
   export unless --force, and a forced export says so in its report;
2. decrypt every segment in memory (no plaintext temp files: the only plaintext written
   is the MP4 that is the purpose of the export, created readable by the custodian only,
   mode 0600, and removed again if the export fails); a segment that recovery marked as cut
   short by power loss is salvaged up to its last whole chunk, and the report says so;
   with --force, a damaged chunk costs only itself (age chunks authenticate one by one),
   a segment whose header is damaged is left out (none of its chunks can be
   authenticated), and a recording not yet recovered on the device gives its
   unfinished segments too; a segment whose data ends early loses the packet the end
   cuts (the TS demuxer would pass it on as whole, a corrupt last picture);
   every segment file left out is named in the report;
3. join the segments by remuxing (stream copy: the court gets the camera's own H.264 and
   AAC bits, nothing re-encoded) into an MP4 with the index at the front (+faststart);
   segment timestamps are already continuous on the recording's timeline;
4. write OUT.report.json: verification result, SHA-256 of every input file and of the
   output, salvage notes, the recording's markers and gaps (with any wall time the
   clock's steps put off the recording's start clock flagged), tool version.

Inputs (export_inputs): only segment names the camera writes, read from the recording
directory itself and never through a link, and never more than the manifest signed;
each file's one read is what is hashed, compared with the manifest's signed hash and
decrypted. Verification checks the directory export holds open and the manifest bytes
export read, so a directory swapped at DIR meanwhile cannot lend its result.
Outputs (export_output): the MP4 and the report are created mode 0600, never through a
link, and never over a file that appeared while the export ran; the report is written
before the MP4 takes its name, so an MP4 at OUT always has its report.

Exit codes: 0 exported, 1 verification failure (without --force) or decryption failure,
2 usage (bad arguments, not a recording directory, unreadable identity, OUT or its
.partial already exists, lies inside the recording directory or cannot be created),
always before any verification or decryption.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bodycam.firmware import __version__
from bodycam.firmware.evidence.age import AgeError, PayloadError, decrypt
from bodycam.firmware.evidence.age.header import header_length
from bodycam.firmware.evidence.age.keys import Identity, read_identity_file
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import VerifyReport, verify_recording
from bodycam.tools.custody.export.inputs import (
    HeldDirectoryError,
    InputChangedError,
    Manifest,
    RecordingFiles,
    RefusedFileError,
    SegmentBytes,
    open_recording,
)
from bodycam.tools.custody.export.mp4 import Mp4Joiner, UnreadableSegmentError
from bodycam.tools.custody.export.output import (
    OutputError,
    check_output,
    create_private,
    move_no_replace,
    partial_path,
    report_path,
    write_new_private,
    written_facts,
)
from bodycam.tools.custody.export.salvage import (
    ChunkSalvage,
    PlainRun,
    RefusedName,
    SegmentSource,
    SkippedChunk,
    header_failure,
    manifest_sources,
    salvage_chunks,
    unaccounted_files,
    unrecovered_note,
    whole_chunks_in,
)
from bodycam.tools.custody.export.timeline import recording_timeline

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
TOOL = "bodycam-evidence export"


class ExportError(Exception):
    """A failure that ends the export with EXIT_FAILED (message names problem and fix)."""


class UsageError(Exception):
    """Bad arguments: exit 2 before anything is verified or decrypted."""


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
    except (ExportError, UnreadableSegmentError) as exc:
        print(f"{TOOL}: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"exported {job.output} ({job.report_path.name})", file=sys.stderr)
    return EXIT_OK


@dataclass
class ExportJob:
    directory: Path
    output: Path
    identities: list[Identity]
    pinned: DevicePublicKey | None
    force: bool
    notes: list[str] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    refused: list[RefusedName] = field(default_factory=list)
    _offset_s: float | None = None  # MP4 time minus manifest media time (None: no media)
    _hole_cut: int = 0  # packets left out because a hole cut them short
    _manifest: Manifest | None = None  # as read once, before verification
    _records_read: list[dict[str, Any]] | None = None
    _mismatch_noted: set[str] = field(default_factory=set)
    # Re-wrapped age headers by segment file (a grant from the evidence server: see
    # server_cmd.py): decrypted with these in place of the stored headers, while every
    # hash check and the report stay on the bytes the camera wrote.
    headers: dict[str, bytes] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return report_path(self.output)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ExportJob:
        directory: Path = args.directory
        output: Path = args.output
        _check_directory(directory)
        try:
            check_output(output, directory)
        except OutputError as exc:
            raise UsageError(str(exc)) from None
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
        try:
            with open_recording(self.directory) as files:
                self._run(files)
        except HeldDirectoryError as exc:
            raise ExportError(str(exc)) from None
        except InputChangedError as exc:
            raise ExportError(
                f"{exc}: something else is writing to {self.directory}, so the report "
                "could not say what was exported; nothing was written. Fix: copy the "
                "recording to a directory nothing else writes to (cp -a) and export "
                "the copy") from None

    def _run(self, files: RecordingFiles) -> None:
        manifest_read = self._read_manifest(files)
        report = self._verify(files)
        if manifest_read:
            files.check_unchanged(self._manifest)
        self._check_verification(report)
        sources = self._segment_sources(files)
        if not sources:
            raise ExportError(f"{self.directory} holds no segments: nothing to export"
                              + "".join(f"; {note}" for note in self.notes))
        partial = partial_path(self.output)
        try:
            fd = create_private(partial)
        except FileExistsError:
            raise ExportError(f"{partial} exists (left by an interrupted export, or made "
                              "by someone else since the check); it may hold plaintext. "
                              "Fix: delete it securely, then export again") from None
        try:
            with os.fdopen(fd, "rb") as mp4:
                summary = self._join(files, sources, partial)
                try:
                    output = written_facts(mp4, partial)
                except OutputError as exc:
                    raise ExportError(str(exc)) from None
            self._write_report(report, {**output, **summary})
            self._publish(partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def _verify(self, files: RecordingFiles) -> VerifyReport:
        """Verify what this export reads: the directory held open (not whatever the path
        names by now) and the manifest bytes read from it; the report names the
        directory as the custodian gave it."""
        report = verify_recording(
            files.held, [self.pinned] if self.pinned is not None else [],
            name=Path(os.path.abspath(self.directory)).name,
            manifest_bytes=None if self._manifest is None else self._manifest.data)
        report.path = self.directory
        return report

    def _read_manifest(self, files: RecordingFiles) -> bool:
        """Read the manifest once, before verify does; False when it was refused."""
        try:
            self._manifest = files.manifest()
        except RefusedFileError as exc:
            self._fail_or_note(f"refused: {exc}; the manifest was not read")
            return False
        return True

    def _records(self) -> list[dict[str, Any]]:
        if self._records_read is None:
            self._records_read = [] if self._manifest is None else self._manifest.records()
        return self._records_read

    def _publish(self, partial: Path) -> None:
        """Give the MP4 its name OUT, never over a file someone made there meanwhile."""
        try:
            move_no_replace(partial, self.output)
        except FileExistsError:
            self.report_path.unlink(missing_ok=True)
            raise ExportError(
                f"{self.output} appeared while the export ran (made by something else); "
                "it was not overwritten, and this export's MP4 and report were removed. "
                f"Fix: choose another OUT, and check what writes to {self.output.parent}"
            ) from None

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

    def _segment_sources(self, files: RecordingFiles) -> list[SegmentSource]:
        """Segments in index order: the manifest's (the verified source of truth), then,
        with --force, the files of a recording not recovered after a power cut. A name
        the camera does not write is refused and never opened."""
        records = self._records()
        manifest = manifest_sources(records)
        for refused in manifest.refused.values():
            self.refused.append(refused)
            self._fail_or_note(refused.note())
        by_index = manifest.by_index
        if not by_index and self.force:
            self.notes.append("no usable segment records in the manifest: exported the "
                              "segment files found in the directory")
        used = {index: source.file for index, source in by_index.items()}
        refused_names = {index: r.file for index, r in manifest.refused.items()}
        for item in unaccounted_files(files.held, records, used, force=self.force,
                                      refused=refused_names):
            if item.include:
                by_index[item.index] = SegmentSource(item.index, item.file, salvage=True,
                                                     unrecovered=item.why)
            else:
                self.notes.append(f"not included: {item.file} ({item.why})")
        return [by_index[i] for i in sorted(by_index)]

    def _join(self, files: RecordingFiles, sources: Sequence[SegmentSource],
              out: Path) -> dict[str, Any]:
        total = sum(files.size(s.file) for s in sources)
        done = 0
        with Mp4Joiner(out) as joiner:
            self._declare_streams(files, joiner, sources)
            for number, source in enumerate(sources, 1):
                segment = self._read(files, source)
                if segment is None:
                    continue
                entry = self._input_entry(source, segment)
                if source.empty:
                    self._note_no_media(source)
                else:
                    self._add_segment(joiner, source,
                                      self._decrypt(source, segment.data, entry), entry)
                done += len(segment.data)
                _progress(f"segment {number}/{len(sources)} {source.file}: "
                          f"{100 * done // max(total, 1)}%")
            summary = joiner.summary()
            if not summary["streams"]:
                raise ExportError(f"no media of {self.directory} could be decrypted ("
                                  + "; ".join(self.notes[-2:]) + "). Fix: give (-i) the "
                                  "identity of the authority the camera encrypts to")
        if summary["dropped_packets"]:
            self.notes.append(f"{summary['dropped_packets']} packet(s) overlapping the "
                              "previous segment were skipped")
        self.notes += [hole.note() for hole in joiner.holes]
        if cut := self._hole_cut + joiner.cut_packets:
            self.notes.append(f"{cut} packet(s) cut off by a skipped chunk, "
                              "and video after it up to the next keyframe (it cannot be "
                              "decoded without the lost pictures), were left out")
        self._offset_s = joiner.mp4_offset_s
        return summary

    def _read(self, files: RecordingFiles, source: SegmentSource) -> SegmentBytes | None:
        """The segment's bytes, read once and checked against the manifest's signed hash;
        None when it is missing or refused (the export fails, or with --force notes it)."""
        label = f"segment {source.index} ({source.file})"
        try:
            segment = files.read_segment(source.file, source.sha256, source.size)
        except FileNotFoundError:
            self._fail_or_note(f"{label} is missing")
            return None
        except RefusedFileError as exc:
            self.refused.append(RefusedName(source.index, source.file, str(exc)))
            self._fail_or_note(f"refused: {label}: {exc}; it was not read")
            return None
        if segment.mismatch is not None and source.file not in self._mismatch_noted:
            self._mismatch_noted.add(source.file)
            self._fail_or_note(f"{label}: {segment.mismatch} (altered, or written to "
                               "during the export); the bytes exported are those whose "
                               "SHA-256 this report gives")
        return segment

    def _add_segment(self, joiner: Mp4Joiner, source: SegmentSource,
                     salvage: ChunkSalvage, entry: dict[str, Any]) -> None:
        """Remux a segment's runs of good chunks; a hole between them is marked so the
        joiner can measure the media it cost and restart video at a keyframe. A run
        that ends where the data does (hole, cut file) loses its cut last packets."""
        label = f"segment {source.index} ({source.file})"
        damaged_tail = salvage.tail is not None and not source.salvage
        pieces = salvage.pieces
        for number, piece in enumerate(pieces):
            if isinstance(piece, SkippedChunk):
                joiner.mark_hole(f"{label} chunk {piece.index}")
                continue
            # runs and skipped chunks alternate: a run that is not last precedes a hole
            at_hole = number < len(pieces) - 1 or damaged_tail
            try:
                cut = joiner.add(piece.data, source.file,
                                 cut_end=at_hole or not salvage.final_seen)
            except ExportError as exc:
                self._fail_or_note(str(exc))
                continue
            if at_hole:
                self._hole_cut += cut
            elif cut:
                entry["cut_end_packets"] = cut
                self.notes.append(f"{label}: {cut} packet(s) cut by the end of its data (the "
                                  "last of each stream, which the data ends inside) were "
                                  "left out")
        if damaged_tail and salvage.tail is not None:
            joiner.mark_hole(f"{label} chunk {salvage.tail.index}")

    def _declare_streams(self, files: RecordingFiles, joiner: Mp4Joiner,
                         sources: Sequence[SegmentSource]) -> None:
        """Give the MP4 every stream the recording has, before its header is written.

        A segment can declare a stream without holding any of its packets (audio is not
        kept in the pre-record buffer; a stalled microphone), and then its codec
        parameters are unknown. So look ahead, segment by segment, until each stream type
        has been seen with packets; usually the first one or two segments suffice. The
        join reads these files again: `read_segment` refuses bytes other than these.
        """
        for source in sources:
            if source.empty:
                continue
            try:
                data = files.read_segment(source.file, source.sha256, source.size).data
                salvage = salvage_chunks(self.identities,
                                         io.BytesIO(self._openable(source.file, data)))
            except (FileNotFoundError, RefusedFileError, AgeError):
                continue  # reported with its details when the segment is joined
            for piece in salvage.pieces:
                if isinstance(piece, PlainRun) and joiner.declare(piece.data):
                    return

    def _input_entry(self, source: SegmentSource, segment: SegmentBytes) -> dict[str, Any]:
        """The report's record of one input file (every one is hashed, used or not)."""
        entry: dict[str, Any] = {"file": source.file, "index": source.index,
                                 "size": len(segment.data), "sha256": segment.sha256}
        if segment.mismatch is not None:
            entry["differs_from_manifest"] = segment.mismatch
        self.inputs.append(entry)
        return entry

    def _decrypt(self, source: SegmentSource, data: bytes,
                 entry: dict[str, Any]) -> ChunkSalvage:
        """Decrypt with the conformance-tested decryptor; only a forced export of a
        damaged file falls back to chunk-by-chunk salvage."""
        data = self._openable(source.file, data)
        buffer = io.BytesIO()
        try:
            result = decrypt(self.identities, io.BytesIO(data), buffer,
                             allow_truncated=source.salvage)
        except PayloadError as exc:
            self._fail_or_note(f"segment {source.index} ({source.file}) is damaged: {exc}")
            return self._salvage_damaged(source, data, entry)
        except AgeError as exc:  # the header: no chunk of the file can be trusted
            return self._undecryptable(source, data, entry, exc)
        salvage = ChunkSalvage.whole(buffer.getvalue(), result.chunks, not result.truncated)
        if result.truncated or source.unrecovered:
            entry["salvaged_bytes"] = result.plaintext_bytes
            self._note_salvaged(source, salvage)
        return salvage

    def _openable(self, file: str, data: bytes) -> bytes:
        """The segment as the identities open it: with its re-wrapped header when one was
        granted (the stored header's length read here, not taken from the server); a
        header that does not parse is left as it is, and decrypting it names the fault."""
        header = self.headers.get(file)
        if header is None:
            return data
        try:
            return header + data[header_length(data):]
        except AgeError:
            return data

    def _undecryptable(self, source: SegmentSource, data: bytes, entry: dict[str, Any],
                       exc: AgeError) -> ChunkSalvage:
        """A file whose header does not open: a cut file without a whole chunk is a
        note; anything else fails the export, or with --force is left out and named."""
        chunks = whole_chunks_in(data, source.whole_chunks) if source.salvage else None
        if chunks == 0:
            self._note_no_media(source)
        else:
            if not self.force:
                raise ExportError(f"cannot decrypt {source.file}: {exc}")
            entry["undecryptable"] = why = header_failure(exc, chunks)
            self.notes.append(f"segment {source.index} ({source.file}) cannot be decrypted "
                              f"and is left out: {why}")
        return ChunkSalvage((), 0, final_seen=False)

    def _salvage_damaged(self, source: SegmentSource, data: bytes,
                         entry: dict[str, Any]) -> ChunkSalvage:
        """Keep every chunk that authenticates; name each one that does not."""
        try:
            salvage = salvage_chunks(self.identities, io.BytesIO(data))
        except AgeError as exc:
            raise ExportError(f"cannot decrypt {source.file}: {exc}") from None
        lost = list(salvage.skipped)
        if salvage.tail is not None and not source.salvage:
            lost.append(salvage.tail)  # a complete file's short final chunk was damaged
        entry["salvaged_bytes"] = salvage.plaintext_bytes
        entry["skipped_chunks"] = [{"index": c.index, "plaintext_start": c.start,
                                    "plaintext_end": c.end} for c in lost]
        label = f"segment {source.index} ({source.file})"
        self.notes += [f"{label}: skipped chunk {c.index} (plaintext bytes {c.start}-{c.end}), "
                       "which fails authentication" for c in lost]
        self.notes.append(f"{label}: kept {salvage.chunks} authenticated chunk(s), "
                          f"{salvage.plaintext_bytes} bytes, including every chunk after "
                          "the damage")
        if source.salvage or source.unrecovered:
            self._note_salvaged(source, salvage)
        return salvage

    def _note_salvaged(self, source: SegmentSource, salvage: ChunkSalvage) -> None:
        if source.unrecovered:
            self.notes.append(unrecovered_note(source.file, source.unrecovered, salvage))
        elif not salvage.final_seen:
            self.notes.append(
                f"segment {source.index} ({source.file}) was cut short by power loss: "
                f"salvaged {salvage.chunks} whole chunk(s), {salvage.plaintext_bytes} "
                "bytes; the media after that was never stored")

    def _note_no_media(self, source: SegmentSource) -> None:
        what = (f"included {source.file}: 0 whole chunks salvaged, recording not recovered "
                "on the device; " if source.unrecovered else "")
        self.notes.append(f"{what}segment {source.index} ({source.file}): no media survived "
                          "(power was lost before its first whole 64 KiB chunk reached the "
                          "card)")

    def _fail_or_note(self, problem: str) -> None:
        if not self.force:
            raise ExportError(f"{problem}; --force exports the rest and records this")
        self.notes.append(f"FORCED past: {problem}")

    def _write_report(self, report: VerifyReport, output: dict[str, Any]) -> None:
        """OUT.report.json, mode 0600 (it holds markers and wall times), created new:
        never through a link, never over a file."""
        manifest = self._manifest
        timeline = recording_timeline(self._records(), self._offset_s)
        self.notes += [flag["note"] for flag in timeline["clock"]["flagged_wall_times"]]
        document = {
            "tool": TOOL, "tool_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "recording": report.recording_id or self.directory.name, "forced": self.force,
            "verification": report.to_json(),
            "manifest": ({"file": MANIFEST_NAME, "sha256": manifest.sha256}
                         if manifest is not None else None),
            "segments": self.inputs,
            "refused": [{"index": r.index, "file": r.file, "why": r.why}
                        for r in self.refused],
            "output": {"file": self.output.name, **output},
            **timeline,
            "notes": self.notes,
        }
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        try:
            write_new_private(self.report_path, text.encode("utf-8"))
        except FileExistsError:
            raise ExportError(
                f"{self.report_path} appeared while the export ran (made by something "
                "else; it was neither followed nor overwritten); this export's MP4 was "
                f"removed. Fix: choose another OUT, and check what writes to "
                f"{self.output.parent}") from None



def _check_directory(directory: Path) -> None:
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory; give evidence/<recording-id>/")
    if not (directory / MANIFEST_NAME).exists() and not any(directory.glob("*.age*")):
        raise UsageError(f"{directory} is not a recording directory (no {MANIFEST_NAME}, "
                         "no .age segment files); give evidence/<recording-id>/")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
