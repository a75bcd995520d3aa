"""V-14 upload checks: media type by magic bytes (never by name), size limit, file names."""

from __future__ import annotations

from engine import files


def test_magic_bytes_decide_the_type():
    assert files.detect_media_type(b"%PDF-1.7\n...") == "application/pdf"
    assert files.detect_media_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert files.detect_media_type(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert files.detect_media_type(b"MZ\x90\x00 an .exe named scan.pdf") is None
    assert files.detect_media_type(b"<svg xmlns=...>") is None


def test_size_limit_and_empty_file():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 92  # 100 bytes
    assert files.check_content(png, max_bytes=100) == ("image/png", None)
    assert files.check_content(png + b"\x00", max_bytes=100)[1].startswith("Datei zu groß")
    assert files.check_content(b"", max_bytes=100)[1] == "Die Datei ist leer"
    assert files.check_content(b"%PDF-1.4", max_bytes=100, accept=("image/png",),
                               lang="en")[1].startswith("Only PDF, JPEG or PNG")


def test_file_names_lose_paths_and_control_characters():
    assert files.clean_filename("C:\\Users\\x\\Einwilligung Amal.pdf") == "Einwilligung Amal.pdf"
    assert files.clean_filename("../../etc/passwd\x00") == "passwd"
    assert files.clean_filename("") == "upload"
    assert len(files.clean_filename("a" * 400)) == 255
