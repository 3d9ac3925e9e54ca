#!/usr/bin/env python3
"""Checks popsend's macOS bundle metadata without a Mac: Info.plist parses (plistlib), names the
app id that src/core/mod.rs uses, claims mailto: links, asks for a real minimum macOS and high-DPI
drawing; the .icns holds the sizes macOS asks for. With an .app path, checks its layout too.

Usage: check_plist.py [PopSend.app]"""
import pathlib
import plistlib
import re
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fail(msg):
    print(f"check_plist: {msg}", file=sys.stderr)
    sys.exit(1)


def app_id():
    m = re.search(r'pub const APP_ID: &str = "([^"]+)";', (ROOT / "src/core/mod.rs").read_text())
    return m.group(1) if m else fail("APP_ID not found in src/core/mod.rs")


def version():
    m = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    return m.group(1)


def check_plist(p, expect_version):
    with open(p, "rb") as f:
        d = plistlib.load(f)
    want = {
        "CFBundleIdentifier": app_id(),
        "CFBundleExecutable": "popsend",
        "CFBundlePackageType": "APPL",
        "CFBundleIconFile": "popsend.icns",
        "NSHighResolutionCapable": True,
    }
    for k, v in want.items():
        if d.get(k) != v:
            fail(f"{p}: {k} is {d.get(k)!r}, want {v!r}")
    schemes = [s for t in d.get("CFBundleURLTypes", []) for s in t.get("CFBundleURLSchemes", [])]
    if "mailto" not in schemes:
        fail(f"{p}: mailto is not among CFBundleURLSchemes ({schemes})")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", d.get("LSMinimumSystemVersion", "")):
        fail(f"{p}: LSMinimumSystemVersion is missing or not a version")
    for k in ("CFBundleShortVersionString", "CFBundleVersion"):
        if d.get(k) != expect_version:
            fail(f"{p}: {k} is {d.get(k)!r}, want {expect_version!r}")
    print(f"  {p}: ok ({d['CFBundleIdentifier']}, mailto, macOS {d['LSMinimumSystemVersion']}+)")


def check_icns(p):
    data = pathlib.Path(p).read_bytes()
    magic, total = struct.unpack(">4sI", data[:8])
    if magic != b"icns" or total != len(data):
        fail(f"{p}: not an icns file")
    kinds, at = set(), 8
    while at < len(data):
        kind, size = struct.unpack(">4sI", data[at : at + 8])
        kinds.add(kind.decode("latin-1"))
        at += size
    need = {"ic08", "ic09", "il32", "is32"}  # 256, 512, 32 and 16 px
    if not need <= kinds:
        fail(f"{p}: lacks {sorted(need - kinds)} (has {sorted(kinds)})")
    print(f"  {p}: ok ({len(kinds)} elements: {' '.join(sorted(kinds))})")


def main():
    ver = version()
    if len(sys.argv) > 1:
        app = pathlib.Path(sys.argv[1])
        c = app / "Contents"
        for f in ("Info.plist", "MacOS/popsend", "Resources/popsend.icns", "Resources/ja.lproj/InfoPlist.strings", "PkgInfo"):
            if not (c / f).is_file():
                fail(f"{app}: {f} is missing")
        if not (c / "MacOS/popsend").stat().st_mode & 0o111:
            fail(f"{app}: MacOS/popsend is not executable")
        check_plist(c / "Info.plist", ver)
        check_icns(c / "Resources/popsend.icns")
    else:
        # The template: the version is filled in by make-app.sh.
        check_plist(ROOT / "packaging/macos/Info.plist", "@VERSION@")
        check_icns(ROOT / "packaging/icons/popsend.icns")


main()
