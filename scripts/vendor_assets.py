#!/usr/bin/env python3
"""Copy browser-ready dist files from node_modules/ into web/static/vendor/.

Stdlib only. Run after `npm ci` (``make assets`` does both).

* Every dependency in package.json must be pinned to an exact version and
  must have an entry in LIBS below (so adding a package forces a decision
  about what gets vendored).
* The version installed in node_modules/ must equal the pin, otherwise the
  script refuses to vendor (stale node_modules -> run `npm ci`).
* Relative ``url(...)`` references in copied CSS files (fonts, images) are
  followed and copied too, so only fonts that are actually referenced end up
  in the vendor tree. A referenced file that does not exist is an error, and
  so is any ``http(s)://`` / protocol-relative url() or @import in vendored
  CSS (no CDN fetches from vendored assets).
* The output is rebuilt from scratch in a temporary directory and swapped in,
  so web/static/vendor never contains stale files.
* ``web/static/vendor/manifest.json`` records, per npm package: version,
  vendor directory, files (path relative to web/static/vendor -> sha256),
  and whether the package still needs a bundling step before its JavaScript
  can be used in a browser (none does: see bundling below).
* Packages that are not browser-ready are bundled: a Lib with ``bundle`` names a
  Node script (run with ``node SCRIPT OUTFILE``) that writes one self-contained
  browser file into the vendor tree; it is listed in the manifest with its sha256
  like a copied file. ``scripts/bundle_lint.mjs`` bundles bpmn-js-bpmnlint with
  bpmnlint's recommended rules using esbuild.
* devDependencies are build tools (BUILD_TOOLS below), pinned and version-checked
  like the rest, but nothing of them is vendored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST_SCHEMA = 1
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""")
CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)""")


@dataclass(frozen=True)
class Lib:
    package: str  # npm package name
    dir: str  # directory below web/static/vendor/
    # Paths (globs allowed) relative to the package root. The destination path
    # is the source path with `strip` removed from the front.
    files: tuple[str, ...] = ()
    strip: str = "dist/"
    needs_bundling: bool = False
    # (script relative to the repository root, output path relative to web/static/vendor)
    bundle: tuple[str, str] | None = None
    note: str = ""
    licenses: tuple[str, ...] = field(default=("LICENSE", "LICENSE.md", "LICENSE.txt"))


LIBS: tuple[Lib, ...] = (
    Lib(
        package="bpmn-js",
        dir="bpmn-js",
        files=(
            "dist/bpmn-viewer.production.min.js",
            "dist/bpmn-navigated-viewer.production.min.js",
            "dist/bpmn-modeler.production.min.js",
            "dist/assets/diagram-js.css",
            "dist/assets/bpmn-js.css",
            "dist/assets/bpmn-font/css/bpmn.css",  # fonts follow via url()
        ),
        note="UMD bundles; globals BpmnJS (viewer / navigated viewer / modeler).",
    ),
    Lib(
        package="bpmn-js-properties-panel",
        dir="bpmn-js-properties-panel",
        files=("dist/bpmn-js-properties-panel.umd.js",),
        note=(
            "Self-contained UMD bundle (global BpmnJSPropertiesPanel) that already "
            "includes @bpmn-io/properties-panel and preact; use with "
            "bpmn-modeler.production.min.js. Source map not vendored."
        ),
    ),
    Lib(
        package="@bpmn-io/properties-panel",
        dir="bpmn-io-properties-panel",
        files=("dist/assets/properties-panel.css",),
        note=(
            "Only the stylesheet is vendored; the JS is consumed through the "
            "bpmn-js-properties-panel UMD bundle (an ES/CJS-only package otherwise)."
        ),
    ),
    Lib(
        package="bpmn-js-bpmnlint",
        dir="bpmn-js-bpmnlint",
        files=("dist/assets/css/bpmn-js-bpmnlint.css",),
        bundle=("scripts/bundle_lint.mjs", "bpmn-js-bpmnlint/lotse-bpmnlint.iife.js"),
        note=(
            "ESM bundled by scripts/bundle_lint.mjs (esbuild) together with bpmnlint and "
            "the rules of bpmnlint/config/recommended into lotse-bpmnlint.iife.js "
            "(global LotseBpmnlint: lintModule, bpmnlint = {config, resolver}, rules)."
        ),
    ),
    Lib(
        package="bpmnlint",
        dir="bpmnlint",
        files=("LICENSE",),
        strip="",
        note=(
            "Node/CommonJS only; its linter and recommended rules are part of "
            "bpmn-js-bpmnlint/lotse-bpmnlint.iife.js (packed config with resolver)."
        ),
    ),
    Lib(
        package="htmx.org",
        dir="htmx",
        files=("dist/htmx.min.js",),
    ),
    Lib(
        package="@kern-ux/native",
        dir="kern",
        files=(
            "dist/kern.min.css",
            "dist/kern-grid.min.css",
            "dist/kern-utilities.min.css",
            "dist/fonts/fira-sans.css",  # referenced .woff2 files follow via url()
            "dist/fonts/noto-sans.css",
            "dist/js/kern-kopfzeile.js",
        ),
        note=(
            "KERN UX design system. Icons are inline SVG data URIs inside kern.min.css "
            "(.kern-icon--*), so there is no separate icon directory. Include "
            "fonts/fira-sans.css next to kern.min.css."
        ),
    ),
)


# devDependencies: pinned build tools, never vendored.
BUILD_TOOLS: dict[str, str] = {
    "esbuild": "bundler for scripts/bundle_lint.mjs",
}


class VendorError(Exception):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pins(root: Path, sections=("dependencies", "optionalDependencies")) -> dict[str, str]:
    pkg = json.loads((root / "package.json").read_text(encoding="utf-8"))
    pins: dict[str, str] = {}
    for section in sections:
        pins.update(pkg.get(section, {}))
    bad = {name: spec for name, spec in pins.items() if not EXACT_VERSION.match(spec)}
    if bad:
        raise VendorError(
            "package.json must pin exact versions (no ^, ~, ranges, URLs, git or file "
            f"specs): {bad}"
        )
    return pins


def installed_version(node_modules: Path, package: str) -> str:
    pj = node_modules / package / "package.json"
    if not pj.is_file():
        raise VendorError(f"{pj} missing - run `npm ci` (or `make assets`) first")
    return json.loads(pj.read_text(encoding="utf-8"))["version"]


def resolve_relative_refs(css_src: Path, pkg_root: Path) -> list[Path]:
    """Files referenced by relative url()/@import in a CSS file (inside the package)."""
    text = css_src.read_text(encoding="utf-8")
    refs: list[Path] = []
    targets = [next(g for g in m.groups() if g is not None) for m in CSS_URL.finditer(text)]
    targets += [m.group(1) for m in CSS_IMPORT.finditer(text)]
    for raw in targets:
        ref = raw.strip()
        if ref.startswith(("data:", "#")):
            continue
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", ref, re.IGNORECASE):
            raise VendorError(f"{css_src}: external reference {ref!r} (no CDN in vendored CSS)")
        ref = ref.split("#", 1)[0].split("?", 1)[0]
        if not ref:
            continue
        target = (css_src.parent / ref).resolve()
        if not target.is_relative_to(pkg_root.resolve()):
            raise VendorError(f"{css_src}: reference {raw!r} points outside the package")
        if not target.is_file():
            raise VendorError(f"{css_src}: referenced file {raw!r} does not exist")
        refs.append(target)
    return refs


def dest_rel(src: Path, pkg_root: Path, lib: Lib) -> PurePosixPath:
    rel = src.resolve().relative_to(pkg_root.resolve()).as_posix()
    if lib.strip and rel.startswith(lib.strip):
        rel = rel[len(lib.strip) :]
    return PurePosixPath(lib.dir) / rel


def vendor_lib(lib: Lib, node_modules: Path, out: Path) -> dict[str, str]:
    pkg_root = node_modules / lib.package
    queue: list[Path] = []
    for pattern in lib.files:
        matches = sorted(pkg_root.glob(pattern))
        if not matches:
            raise VendorError(f"{lib.package}: {pattern!r} matched nothing in {pkg_root}")
        queue.extend(matches)

    files: dict[str, str] = {}
    seen: set[Path] = set()
    while queue:
        src = queue.pop(0).resolve()
        if src in seen:
            continue
        seen.add(src)
        rel = dest_rel(src, pkg_root, lib)
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        files[rel.as_posix()] = sha256(dst)
        if src.suffix == ".css":
            queue.extend(resolve_relative_refs(src, pkg_root))

    if files:
        for name in lib.licenses:
            lic = pkg_root / name
            if lic.is_file():
                rel = PurePosixPath(lib.dir) / name
                (out / lib.dir).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(lic, out / rel)
                files[rel.as_posix()] = sha256(out / rel)
                break
    return dict(sorted(files.items()))


def run_bundle(lib: Lib, root: Path, out: Path) -> dict[str, str]:
    """Run the Lib's bundle script; the one file it writes, with its sha256."""
    assert lib.bundle is not None
    script, target = lib.bundle
    node = shutil.which("node")
    if node is None:
        raise VendorError(f"{lib.package}: `node` not found (Node 20 is needed to bundle)")
    dst = out / target
    dst.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [node, str(root / script), str(dst)], cwd=root, capture_output=True, text=True
    )
    if proc.returncode != 0 or not dst.is_file():
        raise VendorError(
            f"{lib.package}: {script} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    text = dst.read_text(encoding="utf-8")
    cdn = re.search(r"""(?:https?:)?//(?:unpkg\.com|cdn\.|[a-z0-9.-]*jsdelivr|cdnjs)""", text)
    if cdn:
        raise VendorError(f"{lib.package}: bundle references a CDN ({cdn.group(0)!r})")
    return {PurePosixPath(target).as_posix(): sha256(dst)}


def build(root: Path, node_modules: Path, vendor: Path) -> dict:
    pins = load_pins(root)
    tools = load_pins(root, ("devDependencies",))
    unknown_tools = sorted(set(tools) - set(BUILD_TOOLS))
    if unknown_tools:
        raise VendorError(
            f"package.json devDependencies without a BUILD_TOOLS entry in "
            f"{Path(__file__).name}: {unknown_tools}"
        )
    for name, spec in tools.items():
        version = installed_version(node_modules, name)
        if version != spec:
            raise VendorError(
                f"{name}: node_modules has {version}, package.json pins {spec} - run `npm ci`"
            )
    known = {lib.package for lib in LIBS}
    unknown = sorted(set(pins) - known)
    if unknown:
        raise VendorError(
            f"package.json dependencies without a LIBS entry in {Path(__file__).name}: {unknown}"
        )
    missing = sorted(known - set(pins))
    if missing:
        raise VendorError(f"LIBS entries not pinned in package.json: {missing}")

    vendor.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".vendor-", dir=vendor.parent))
    try:
        libs: dict[str, dict] = {}
        for lib in LIBS:
            version = installed_version(node_modules, lib.package)
            if version != pins[lib.package]:
                raise VendorError(
                    f"{lib.package}: node_modules has {version}, package.json pins "
                    f"{pins[lib.package]} - run `npm ci` (or `make assets`)"
                )
            entry: dict = {
                "version": version,
                "dir": lib.dir,
                "needs_bundling": lib.needs_bundling,
                "files": vendor_lib(lib, node_modules, tmp),
            }
            if lib.bundle is not None:
                entry["files"].update(run_bundle(lib, root, tmp))
                entry["files"] = dict(sorted(entry["files"].items()))
                entry["bundled_by"] = lib.bundle[0]
            if lib.note:
                entry["note"] = lib.note
            libs[lib.package] = entry

        manifest = {
            "schema": MANIFEST_SCHEMA,
            "generated_by": "scripts/vendor_assets.py",
            "paths_relative_to": "web/static/vendor",
            "libs": libs,
            "needs_bundling": sorted(n for n, e in libs.items() if e["needs_bundling"]),
            "build_tools": {name: tools[name] for name in sorted(tools)},
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        tmp.chmod(0o755)

        old = None
        if vendor.exists():
            old = vendor.with_name(f".vendor-old-{tmp.name}")
            vendor.rename(old)
        tmp.rename(vendor)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=default_root, help="repository root")
    args = ap.parse_args(argv)
    root: Path = args.root.resolve()
    try:
        manifest = build(root, root / "node_modules", root / "web" / "static" / "vendor")
    except VendorError as exc:
        print(f"vendor_assets: error: {exc}", file=sys.stderr)
        return 1
    total = sum(len(e["files"]) for e in manifest["libs"].values())
    print(f"vendor_assets: {total} files -> web/static/vendor/ (manifest.json)")
    for name, entry in manifest["libs"].items():
        flag = "  [needs bundling]" if entry["needs_bundling"] else ""
        print(f"  {name}@{entry['version']}: {len(entry['files'])} files{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
