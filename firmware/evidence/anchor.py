"""Chain heads that leave the camera: the outside anchor against rollback and forks.

Everything on the card can be rewritten by whoever holds it; a hash chain only proves
that what is there is consistent. What proves nothing was cut off is a head (seq and
line hash, plus the TPM counter where there is one) that was copied somewhere the card
holder cannot reach: the evidence server's signed offload receipt, or a custodian's
note. A later copy of the log must still hold that very line; if the line is gone the
log was cut back (rolled back), if another line stands there the log was rewritten
(a fork).

`heads` reads them; `check_anchor` compares a log with a head kept earlier. The offload
(docs/formats.md "Chain heads") sends the same JSON, so the server can run this check on
every upload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bodycam.firmware.evidence.verify import VerifyReport
from bodycam.firmware.evidence.verify_chain import Problem

__all__ = ["ChainHead", "check_anchor", "head_of", "heads_document", "read_anchor"]

FORMAT = "bodycam-heads/1"


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str
    counter: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "counter": self.counter}


def head_of(report: VerifyReport) -> ChainHead | None:
    """The last line of a verified log or manifest, and the last counter it holds."""
    if not report.hashes:
        return None
    seq = max(report.hashes)
    counter = report.counters[-1].value if report.counters else None
    return ChainHead(seq, report.hashes[seq], counter)


def heads_document(audit: VerifyReport | None,
                   recordings: list[VerifyReport]) -> dict[str, Any]:
    """What to keep outside the camera: the audit log's head and every recording's."""
    audit_head = head_of(audit) if audit is not None else None
    return {
        "format": FORMAT,
        "device_keys": list(audit.device_keys) if audit is not None else [],
        "audit": audit_head.to_json() if audit_head else None,
        "recordings": {r.recording_id: head.to_json() for r in recordings
                       if r.recording_id and (head := head_of(r)) is not None},
    }


def read_anchor(path: Path) -> dict[str, Any]:
    """A heads document kept earlier; ValueError names what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not a heads document ({exc}); make one with "
                         "`bodycam-evidence heads`") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} document; make one with "
                         "`bodycam-evidence heads`")
    return document


def _head(value: object) -> ChainHead | None:
    if not isinstance(value, Mapping):
        return None
    seq, digest, counter = value.get("seq"), value.get("hash"), value.get("counter")
    if type(seq) is not int or not isinstance(digest, str):
        return None
    return ChainHead(seq, digest, counter if type(counter) is int else None)


def check_anchor(anchor: Mapping[str, Any], audit: VerifyReport | None,
                 recordings: list[VerifyReport]) -> list[Problem]:
    """Every head the anchor holds must still be in the log it names."""
    problems: list[Problem] = []
    head = _head(anchor.get("audit"))
    if head is not None and audit is not None:
        problems += _compare("the audit log", audit, head)
    kept = anchor.get("recordings")
    by_id = {r.recording_id: r for r in recordings}
    if isinstance(kept, Mapping):
        for recording_id, value in kept.items():
            rec_head = _head(value)
            if rec_head is None:
                continue
            report = by_id.get(str(recording_id))
            if report is None:
                problems.append(Problem("anchor", f"recording {recording_id} was held by an "
                                        "earlier anchor but is not among those given "
                                        "(deleted?)"))
                continue
            problems += _compare(f"recording {recording_id}", report, rec_head)
    return problems


def _compare(what: str, report: VerifyReport, head: ChainHead) -> list[Problem]:
    name = report.path.name
    found = report.hashes.get(head.seq)
    if found is None:
        last = max(report.hashes, default=-1)
        return [Problem(name, f"{what} ends at seq {last}, but an earlier anchor saw it "
                        f"reach seq {head.seq}: it was cut back (rolled back) since")]
    if found != head.hash:
        return [Problem(name, f"{what} holds another line at seq {head.seq} than an earlier "
                        "anchor saw: it was rewritten since (a fork)", seq=head.seq)]
    last_counter = report.counters[-1].value if report.counters else None
    if head.counter is not None and last_counter is not None and last_counter < head.counter:
        return [Problem(name, f"{what}'s last counter value is {last_counter}, below the "
                        f"{head.counter} an earlier anchor saw")]
    return []
