"""C-STORE / C-ECHO receiver (SCP) that writes received instances into the incoming area.

PACS or the scanner push studies here; each instance is written atomically under names made
from its sanitised UIDs (``<study>/<series>/<sop>.dcm``), so the series assembly that reads
the watch folder never sees half a file or an input-chosen name. Failures are logged with the
study UID and answered with a DICOM failure status, never a traceback to the peer.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from pydicom.uid import UID
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from processor.dicom_out.sanitize import safe_uid_for_filename
from spectssp.fsutil import atomic_write_bytes

logger = logging.getLogger(__name__)

# C-STORE failure statuses (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
SUCCESS = 0x0000
PARTIAL_DIR = ".partial"  # temp files live here; the watch folder must skip dot-names

OnReceived = Callable[[Path, str, str], None]  # (path, study uid, series uid)


def start_scp(
    ae_title: str,
    port: int,
    incoming_dir: Path,
    allowed_calling_aets: list[str] | None = None,
    *,
    host: str = "127.0.0.1",
    on_received: OnReceived | None = None,
    max_object_bytes: int = 2048 * 1024 * 1024,
    max_pdu: int = 16384,
) -> ThreadedAssociationServer:
    """Start a non-blocking Storage + Verification SCP; stop it with ``.shutdown()``.

    A non-empty ``allowed_calling_aets`` rejects other calling AE titles at association.
    ``port`` 0 picks a free port (read it from ``server.server_address``).
    """
    incoming = Path(incoming_dir)
    incoming.mkdir(parents=True, exist_ok=True)
    (incoming / PARTIAL_DIR).mkdir(exist_ok=True)
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = max_pdu
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.require_calling_aet = [a.strip() for a in (allowed_calling_aets or []) if a.strip()]
    handlers = [
        (evt.EVT_C_STORE, handle_store, [incoming, max_object_bytes, on_received]),
        (evt.EVT_C_ECHO, handle_echo),
        (evt.EVT_REJECTED, _log_rejected),
    ]
    server = ae.start_server((host, int(port)), block=False, evt_handlers=handlers)
    logger.info("DICOM receiver %s listening on %s:%d (allowed calling AEs: %s)", ae_title,
                host, server.server_address[1], ", ".join(ae.require_calling_aet) or "any")
    return server


def handle_echo(event: evt.Event) -> int:
    """C-ECHO: answer success (lets a PACS administrator test the connection)."""
    logger.debug("C-ECHO from %s", event.assoc.requestor.ae_title)
    return SUCCESS


def _log_rejected(event: evt.Event) -> None:
    logger.warning("association from %s (%s) rejected", event.assoc.requestor.ae_title,
                   event.assoc.requestor.address)


def handle_store(event: evt.Event, incoming: Path, max_bytes: int,
                 on_received: OnReceived | None) -> int:
    """C-STORE: write the instance atomically; return a DICOM status, never raise."""
    study_uid = "unknown"
    try:
        size = event.request.DataSet.getbuffer().nbytes  # type: ignore[union-attr]
        if size > max_bytes:
            logger.error("C-STORE from %s refused: %d bytes exceeds the limit of %d bytes",
                         event.assoc.requestor.ae_title, size, max_bytes)
            return OUT_OF_RESOURCES
        ds = event.dataset
        study_uid = _uid(ds, "StudyInstanceUID")
        series_uid = _uid(ds, "SeriesInstanceUID")
        sop_uid = _uid(UID(event.request.AffectedSOPInstanceUID), None)
    except _BadUID as exc:
        logger.error("C-STORE for study %s refused: %s", study_uid, exc)
        return CANNOT_UNDERSTAND
    except Exception as exc:  # undecodable dataset from the peer
        logger.error("C-STORE for study %s refused: dataset cannot be decoded (%s)", study_uid,
                     type(exc).__name__)
        return CANNOT_UNDERSTAND
    target = incoming / study_uid / series_uid / f"{sop_uid}.dcm"
    try:
        _write_atomic(event.encoded_dataset(include_meta=True), target, incoming / PARTIAL_DIR)
    except OSError as exc:
        logger.error("C-STORE for study %s failed: cannot write the instance (%s)", study_uid,
                     exc.strerror or exc)
        return OUT_OF_RESOURCES
    logger.info("received study %s series %s instance %s", study_uid, series_uid, sop_uid)
    if on_received is not None:
        try:
            on_received(target, study_uid, series_uid)
        except Exception:  # the file is stored; a failing callback must not fail the store
            logger.exception("study %s: on_received callback failed", study_uid)
    return SUCCESS


class _BadUID(ValueError):
    """A UID that cannot name a file."""


def _uid(source: object, keyword: str | None) -> str:
    value = source if keyword is None else getattr(source, keyword, None)
    text = str(value or "").strip()
    try:
        cleaned = safe_uid_for_filename(text)
    except ValueError:
        raise _BadUID(f"{keyword or 'SOPInstanceUID'} is missing or invalid") from None
    if cleaned != text:
        raise _BadUID(f"{keyword or 'SOPInstanceUID'} is not a valid UID")
    return cleaned


def _write_atomic(data: bytes, target: Path, partial_dir: Path) -> None:
    """Temp file in the same file system, fsync, rename into place."""
    atomic_write_bytes(target, data, tmp_dir=partial_dir)
