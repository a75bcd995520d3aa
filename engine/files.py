"""Uploaded files of form fields (V-14): content-type detection, storage, and binding a
file reference in submitted form data to the stored file.

The file bytes live in table ``stored_file`` (migration 0008), linked to the instance and
its case; workflow data only ever holds the reference ``{id, sha256, size, media_type,
filename}``. The media type is decided by the file's first bytes, never by its name or the
declared MIME type. File names may be personal: they are stored, never logged.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import forms
from engine.models import Base, UTCDateTime

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# key -> (German, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "type": ("Nur PDF, JPEG oder PNG erlaubt (der Dateiinhalt wird geprüft)",
             "Only PDF, JPEG or PNG (the file content is checked)"),
    "too_large": ("Datei zu groß (höchstens {mb} MB)", "File too large (at most {mb} MB)"),
    "empty": ("Die Datei ist leer", "The file is empty"),
    "unknown": ("Unbekannte Datei: bitte erneut hochladen",
                "Unknown file: please upload it again"),
    "used": ("Diese Datei wurde schon für eine andere Eingabe verwendet",
             "This file was already used for another submission"),
}


class StoredFile(Base):
    """One uploaded file: bytes, detected media type, checksum, and where it belongs."""

    __tablename__ = "stored_file"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(100), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))  # the task it was uploaded for
    field: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by_task: Mapped[str | None] = mapped_column(String(36))  # set by the completion
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def message(key: str, lang: str, **params: object) -> str:
    """A file error message in German or English."""
    return MESSAGES[key][0 if lang == "de" else 1].format(**params)


def detect_media_type(content: bytes) -> str | None:
    """PDF, PNG or JPEG by the file's magic bytes; None for anything else."""
    for magic, media_type in _SIGNATURES:
        if content.startswith(magic):
            return media_type
    return None


def check_content(content: bytes, *, max_bytes: int, accept=forms.FILE_MEDIA_TYPES,
                  lang: str = "de") -> tuple[str | None, str | None]:
    """(detected media type, None) for an acceptable file, else (None, error message)."""
    if not content:
        return None, message("empty", lang)
    if len(content) > max_bytes:
        return None, message("too_large", lang, mb=_mb(max_bytes))
    media_type = detect_media_type(content)
    if media_type is None or media_type not in accept:
        return None, message("type", lang)
    return media_type, None


def _mb(size: int) -> str:
    mb = size / (1024 * 1024)
    return str(int(mb)) if mb.is_integer() else f"{mb:.1f}"


def clean_filename(name: str | None) -> str:
    """The base name without control characters or path parts, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base)
                   if unicodedata.category(c)[0] != "C").strip()
    return base[:255] or "upload"


@dataclass(frozen=True)
class Upload:
    """Checked bytes for one file field (``check_content`` first), to be stored with the
    completion that uses them (``Engine.complete(..., uploads=[...])``)."""

    field: str
    filename: str | None
    content: bytes
    media_type: str


def reference(row: StoredFile) -> dict:
    """What workflow data holds of a file."""
    return {"id": row.id, "sha256": row.sha256, "size": row.size,
            "media_type": row.media_type, "filename": row.filename}


def store(s: Session, *, instance_id: int, case_ref: str | None, task_id: str | None,
          field: str | None, filename: str | None, content: bytes, media_type: str,
          uploaded_by: str | None, now: datetime) -> dict:
    """Store checked file bytes (``check_content`` first); returns the reference."""
    row = StoredFile(id=str(uuid.uuid4()), instance_id=instance_id, case_ref=case_ref,
                     task_id=task_id, field=field, filename=clean_filename(filename),
                     media_type=media_type, size=len(content),
                     sha256=hashlib.sha256(content).hexdigest(), content=content,
                     uploaded_by=uploaded_by, uploaded_at=now)
    s.add(row)
    s.flush()
    return reference(row)


def get(s: Session, file_id: str) -> StoredFile | None:
    """A stored file by id (None for an unknown or malformed id)."""
    if not isinstance(file_id, str) or not _ID_RE.fullmatch(file_id):
        return None
    return s.get(StoredFile, file_id)


def bind(s: Session, schema: dict | None, cleaned: dict, errors: dict[str, list[str]], *,
         instance_id: int, case_ref: str | None, task_id: str, now: datetime,
         lang: str = "de") -> dict[str, list[str]]:
    """Check every file reference in ``cleaned`` (exists, same case, unused, allowed type
    and size), replace it by the stored reference and mark the file used by ``task_id``.
    Adds field errors to ``errors`` (fields already in it are skipped) and returns it; the
    caller raises and its rollback undoes the marks when there are any."""
    for name, spec in forms.file_fields(schema).items():
        value = cleaned.get(name)
        if value is None or name in errors:
            continue
        file_id = value.get("id") if isinstance(value, dict) else None
        row = get(s, file_id) if isinstance(file_id, str) else None
        if row is not None:
            s.refresh(row, with_for_update=True)
        same_case = row is not None and (
            row.case_ref == case_ref if case_ref else row.instance_id == instance_id)
        if row is None or not same_case:
            errors.setdefault(name, []).append(message("unknown", lang))
            continue
        if row.used_by_task is not None:
            errors.setdefault(name, []).append(message("used", lang))
            continue
        max_bytes = int(spec.get("max_bytes") or DEFAULT_MAX_BYTES)
        if row.size > max_bytes:
            errors.setdefault(name, []).append(message("too_large", lang, mb=_mb(max_bytes)))
            continue
        if row.media_type not in (spec.get("accept") or forms.FILE_MEDIA_TYPES):
            errors.setdefault(name, []).append(message("type", lang))
            continue
        row.used_by_task, row.used_at = task_id, now
        cleaned[name] = reference(row)
    return errors
