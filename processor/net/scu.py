"""C-STORE sender (SCU): one association per call, one clear status per file.

Association failures and C-STORE failure statuses become ``SpectSSPError(DELIVERY_FAILED)``
values in the per-file results (never raised), logged with the study UID, so the outbox can
decide about retries and the status command can say what went wrong.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from spectssp.errors import ErrorCode, SpectSSPError

logger = logging.getLogger(__name__)

MAX_CONTEXTS = 128


@dataclass
class SendResult:
    """Outcome for one file: ``ok`` when the peer stored it (success or warning status)."""

    path: Path
    ok: bool
    status: int | None  # the C-STORE status, None when no response came
    sop_instance_uid: str | None = None
    study_uid: str | None = None
    error: SpectSSPError | None = None


def send_files(paths: Sequence[Path | str], ae_title: str, host: str, port: int,
               calling_aet: str = "SPECTSSP", timeout_s: float = 30.0) -> list[SendResult]:
    """Send ``paths`` to ``ae_title@host:port`` over one association; one result per path."""
    where = f"{ae_title}@{host}:{port}"
    loaded: list[tuple[Path, pydicom.Dataset | None, SendResult | None]] = []
    for p in map(Path, paths):
        try:
            ds = pydicom.dcmread(p)
            ds.SOPClassUID, ds.SOPInstanceUID  # noqa: B018 - both are required to send
        except Exception as exc:
            err = SpectSSPError(ErrorCode.DELIVERY_FAILED, f"{p.name} cannot be read for sending ({type(exc).__name__}).")
            logger.error("delivery to %s: %s", where, err.message)
            loaded.append((p, None, SendResult(p, False, None, error=err)))
            continue
        loaded.append((p, ds, None))
    sendable = [(p, ds) for p, ds, r in loaded if ds is not None]
    results: dict[Path, SendResult] = {p: r for p, ds, r in loaded if r is not None}
    if sendable:
        results.update(_send(sendable, ae_title, host, port, calling_aet, timeout_s, where))
    return [results[p] for p, _, _ in loaded]


def _send(items: list[tuple[Path, pydicom.Dataset]], ae_title: str, host: str, port: int,
          calling_aet: str, timeout_s: float, where: str) -> dict[Path, SendResult]:
    ae = AE(ae_title=calling_aet)
    for attr in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, attr, timeout_s)
    contexts: dict[str, set[str]] = {}
    for _, ds in items:
        ts = str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian))
        contexts.setdefault(str(ds.SOPClassUID), {str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)}).add(ts)
    for sop_class, syntaxes in list(contexts.items())[:MAX_CONTEXTS]:
        ae.add_requested_context(sop_class, sorted(syntaxes))
    out: dict[Path, SendResult] = {}
    try:
        assoc = ae.associate(host, int(port), ae_title=ae_title)
    except Exception as exc:  # bad address, name resolution
        assoc = None
        reason = f"cannot connect ({type(exc).__name__}: {exc})"
    else:
        reason = ("association rejected" if assoc.is_rejected else
                  "association aborted" if assoc.is_aborted else
                  "no association (peer not reachable or not answering)")
    if assoc is None or not assoc.is_established:
        for p, ds in items:
            out[p] = _fail(p, ds, None, f"delivery to {where} failed: {reason}.", where)
        return out
    try:
        for p, ds in items:
            out[p] = _store_one(assoc, p, ds, where)
    finally:
        if assoc.is_established:
            assoc.release()
    return out


def _store_one(assoc, path: Path, ds: pydicom.Dataset, where: str) -> SendResult:  # type: ignore[no-untyped-def]
    if not assoc.is_established:
        return _fail(path, ds, None, f"delivery to {where} failed: association was lost.", where)
    try:
        rsp = assoc.send_c_store(ds)
    except ValueError:
        return _fail(path, ds, None,
                     f"{where} did not accept SOP class {ds.SOPClassUID} with the file's transfer syntax.", where)
    except Exception as exc:
        return _fail(path, ds, None, f"delivery to {where} failed: {type(exc).__name__}.", where)
    status = rsp.get("Status") if rsp is not None else None
    if status is None:
        return _fail(path, ds, None, f"no C-STORE response from {where} (timeout or abort).", where)
    category = code_to_category(int(status))
    if category in ("Success", "Warning"):
        if category == "Warning":
            logger.warning("study %s: %s stored %s with warning 0x%04X", ds.get("StudyInstanceUID"),
                           where, ds.SOPInstanceUID, status)
        return SendResult(path, True, int(status), str(ds.SOPInstanceUID), str(ds.get("StudyInstanceUID", "")))
    meaning = STORAGE_SERVICE_CLASS_STATUS.get(int(status), (category, ""))
    text = ": ".join(x for x in meaning if x)
    return _fail(path, ds, int(status), f"{where} refused the instance with status 0x{int(status):04X} ({text}).", where)


def _fail(path: Path, ds: pydicom.Dataset, status: int | None, message: str, where: str) -> SendResult:
    study = str(ds.get("StudyInstanceUID", "unknown"))
    logger.error("study %s: %s", study, message)
    return SendResult(path, False, status, str(ds.get("SOPInstanceUID", "")), study,
                      SpectSSPError(ErrorCode.DELIVERY_FAILED, message))
