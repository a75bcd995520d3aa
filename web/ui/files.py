"""Download of an uploaded file (V-14): only for users who may see the case and the
category of the file's field; the download is logged as a data read."""

from __future__ import annotations

from web import uploads
from web.auth import login_required
from web.ui import bp


@bp.get("/files/<file_id>")
@login_required
def file_download(file_id: str):
    """The stored file as an attachment (404 for anyone who may not see it)."""
    return uploads.download(file_id)
