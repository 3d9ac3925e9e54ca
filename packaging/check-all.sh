#!/usr/bin/env bash
# The slow packaging checks, run before a packaging change is closed (not in every CI run:
# the release build and the Windows cross-build take long). Each part prints what it checked;
# the first failure stops the script. Screenshots go to docs/screenshots/packaging-*.png.
#
#   linux    release build, run-time depends, the .deb (cargo deb), lintian, apt-get install -s,
#            unpacked into a scratch root; a mailto: link opened with `gio open` in temporary XDG
#            folders under Xvfb fills 作成 (screenshot), a second link goes to the same window
#   windows  cross-built popsend.exe (GUI subsystem, icon), `--help` and the window under Wine +
#            Xvfb (screenshot), with OpenGL 1.1 only on the CPU path (screenshot), the NSIS
#            installer installed and uninstalled silently, the registry checked in between
#   macos    PopSend.app laid out (with the Linux binary as a stand-in) and checked
#
# Usage: packaging/check-all.sh [linux] [windows] [macos]    (default: all three)
# Needs (apt): xvfb xdotool imagemagick desktop-file-utils appstream lintian libglib2.0-bin
#   nsis wine wine64 gcc-mingw-w64-x86-64 rustc-web rust-web-src icnsutils python3
#   and cargo-deb (cargo install cargo-deb --locked)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(linux windows macos)
out=$root/target/packaging-check
mkdir -p "$out"
shots=$root/docs/screenshots
id=$(sed -n 's/^pub const APP_ID: &str = "\(.*\)";$/\1/p' src/core/mod.rs)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
size() { du -h "$1" | cut -f1; }
# One X server for every part that needs one, started by the first (tests/support/xvfb.sh).
source "$root/tests/support/xvfb.sh"
start_x() {
    [ -n "${XVFB_PID:-}" ] || xvfb_start 1024x768
}
# Waits up to $2 seconds for a window whose class matches $1; prints its id.
wait_window() {
    for _ in $(seq 1 $(( $2 * 2 ))); do
        w=$(xdotool search --onlyvisible --class "$1" 2>/dev/null | head -n1 || true)
        [ -n "$w" ] && { echo "$w"; return 0; }
        sleep 0.5
    done
    return 1
}

linux() {
    say "linux: release build"
    cargo build --release --locked
    ls -l target/release/popsend
    say "linux: libraries loaded at run time are in Depends"
    bash packaging/linux/check-deps.sh target/release/popsend
    say "linux: the .deb"
    rm -f "$out"/*.deb
    cargo deb --no-build --locked -o "$out/"
    deb=$(ls "$out"/popsend_*.deb)
    echo "$deb: $(size "$deb")"
    dpkg-deb -I "$deb" | sed -n '/Package:/,$p'
    say "linux: lintian"
    lintian --fail-on error --no-tag-display-limit "$deb" | tee "$out/lintian.txt" || { echo "lintian found errors" >&2; return 1; }
    echo "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings"
    say "linux: apt-get install -s"
    apt-get install -s "$deb" | grep -E '^(Inst|Conf) popsend' || { echo "apt would not install it" >&2; return 1; }
    say "linux: unpacked"
    scratch=$out/root
    rm -rf "$scratch" && mkdir -p "$scratch"
    dpkg-deb -x "$deb" "$scratch"
    for f in usr/bin/popsend "usr/share/applications/$id.desktop" "usr/share/metainfo/$id.metainfo.xml" \
             "usr/share/icons/hicolor/scalable/apps/$id.svg" "usr/share/icons/hicolor/48x48/apps/$id.png" \
             usr/share/doc/popsend/copyright usr/share/doc/popsend/LICENSE-NotoSansCJK.txt; do
        [ -e "$scratch/$f" ] || { echo "missing from the package: $f" >&2; return 1; }
    done
    ls "$scratch/usr/share/man/man1/"
    "$scratch/usr/bin/popsend" --version

    say "linux: a mailto: link through the desktop (gio open) fills 作成"
    xdg=$out/xdg
    rm -rf "$xdg" && mkdir -p "$xdg/data/applications" "$xdg/config" "$xdg/popsend"
    # The packaged entry, its Exec pointed at the unpacked binary and this test's own files.
    sed "s|^Exec=popsend %u|Exec=$scratch/usr/bin/popsend --config $xdg/popsend/config.toml --data-dir $xdg/popsend/data %u|" \
        "$scratch/usr/share/applications/$id.desktop" > "$xdg/data/applications/$id.desktop"
    printf '[account]\naddress = "taro@st.example.ac.jp"\n[pop]\nhost = "127.0.0.1"\nport = 1\nusername = "taro"\n[smtp]\nport = 1\n' > "$xdg/popsend/config.toml"
    chmod 600 "$xdg/popsend/config.toml"
    export XDG_DATA_HOME=$xdg/data XDG_CONFIG_HOME=$xdg/config XDG_DATA_DIRS=$xdg/data:/usr/share
    update-desktop-database "$xdg/data/applications"
    gio mime x-scheme-handler/mailto "$id.desktop"
    handler=$(gio mime x-scheme-handler/mailto)
    grep -q "Default application.*$id.desktop" <<<"$handler" || { echo "gio did not take popsend as the mailto handler: $handler" >&2; return 1; }
    start_x
    POPSEND_LANG=ja POPSEND_PASSWORD=x gio open 'mailto:sensei@example.ac.jp?cc=tomo@example.jp&subject=%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88%E3%81%AE%E4%BB%B6&body=%E7%94%B0%E4%B8%AD%E5%85%88%E7%94%9F%0D%0A%0D%0A%E3%82%88%E3%82%8D%E3%81%97%E3%81%8F%E3%81%8A%E9%A1%98%E3%81%84%E3%81%97%E3%81%BE%E3%81%99%E3%80%82'
    win=$(wait_window "$id" 20) || { echo "no popsend window after gio open" >&2; return 1; }
    sleep 3
    import -window "$win" "$shots/packaging-linux-mailto.png"
    echo "screenshot: docs/screenshots/packaging-linux-mailto.png"
    xprop -id "$win" WM_CLASS _NET_WM_ICON | cut -c1-100
    # A second link: the same window takes it, no second one opens.
    POPSEND_LANG=ja gio open 'mailto:second@example.jp?subject=2'
    sleep 3
    n=$(xdotool search --onlyvisible --class "$id" | wc -l)
    [ "$n" = 1 ] || { echo "$n popsend windows after a second link (want 1)" >&2; return 1; }
    echo "second link: still one window"
    # Ended as a desktop would end it at logout (no window manager here to ask it to close).
    pkill -TERM -f "$scratch/usr/bin/popsend" || true
    sleep 1
    unset XDG_DATA_HOME XDG_CONFIG_HOME XDG_DATA_DIRS
}

windows() {
    say "windows: cross-build"
    bash packaging/windows/build.sh
    exe=$root/target/windows/x86_64-pc-windows-gnu/release/popsend.exe
    echo "$exe: $(size "$exe")"
    headers=$(x86_64-w64-mingw32-objdump -p "$exe")
    grep -E '^Subsystem' <<<"$headers" | grep -q 'Windows GUI' || { echo "popsend.exe is not a GUI-subsystem program" >&2; return 1; }
    echo "subsystem: Windows GUI"
    sections=$(x86_64-w64-mingw32-objdump -h "$exe")
    grep -q '\.rsrc' <<<"$sections" || { echo "popsend.exe has no resources (icon, version, manifest)" >&2; return 1; }
    echo "resources: present (.rsrc)"

    say "windows: under Wine"
    export WINEPREFIX=$out/wine WINEDEBUG=-all WINEARCH=win64
    start_x
    [ -d "$WINEPREFIX" ] || wineboot --init >/dev/null 2>&1
    run=$out/wine-run
    rm -rf "$run" && mkdir -p "$run"
    cp "$exe" "$run/"
    # Test-only: Debian's Wine 8 lacks bcryptprimitives.dll's ProcessPrng, which Rust's std calls
    # for random numbers. A shim beside the exe (never shipped) forwards it to RtlGenRandom.
    cat > "$run/shim.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n)) return FALSE;
        data += n; length -= n;
    }
    return TRUE;
}
C
    x86_64-w64-mingw32-gcc -shared -O2 -o "$run/bcryptprimitives.dll" "$run/shim.c" -ladvapi32
    help=$(cd "$run" && POPSEND_LANG=ja wine ./popsend.exe --help 2>&1 | tr -d '\r' || true)
    echo "$help" | head -n 4
    grep -q 'send' <<<"$help" || { echo "popsend.exe --help printed nothing usable under Wine" >&2; return 1; }
    cfg=$(winepath -w "$run/config.toml")
    printf '[account]\naddress = "taro@st.example.ac.jp"\n[pop]\nhost = "127.0.0.1"\nport = 1\nusername = "taro"\n[smtp]\nport = 1\n' > "$run/config.toml"
    data=$(winepath -w "$run/data")
    rm -rf "$run/data"
    (cd "$run" && POPSEND_LANG=ja POPSEND_PASSWORD=x wine ./popsend.exe --config "$cfg" --data-dir "$data" >/dev/null 2>&1) & pids+=($!)
    win=$(wait_window "popsend" 60) || { echo "no popsend window under Wine" >&2; return 1; }
    sleep 3
    # A second start with a mailto: link hands it to this window (the lock file and the named
    # pipe) and ends; no second window opens.
    started=$(date +%s%N)
    (cd "$run" && POPSEND_LANG=ja timeout 60 wine ./popsend.exe --config "$cfg" --data-dir "$data" \
        'mailto:sensei@example.ac.jp?subject=%E3%83%AC%E3%83%9D%E3%83%BC%E3%83%88') || { echo "the second start did not hand over under Wine" >&2; return 1; }
    echo "second start handed over in $(( ($(date +%s%N) - started) / 1000000 )) ms"
    sleep 3
    n=$(xdotool search --onlyvisible --class popsend | wc -l)
    [ "$n" = 1 ] || { echo "$n popsend windows under Wine after a second start (want 1)" >&2; return 1; }
    import -window "$win" "$shots/packaging-windows-wine.png"
    echo "screenshot: docs/screenshots/packaging-windows-wine.png (作成 filled by the second start's link)"
    wineserver -k || true
    sleep 1

    # A Windows PC without a GPU driver offers OpenGL 1.1 only (GDI Generic): no context for
    # eframe, and popsend.exe opens on the CPU path (issue 27), drawn through GDI.
    rm -rf "$run/data"
    (cd "$run" && MESA_GL_VERSION_OVERRIDE=1.1 POPSEND_LANG=ja POPSEND_PASSWORD=x POPSEND_TRACE_START=1 \
        wine ./popsend.exe --config "$cfg" --data-dir "$data" >/dev/null 2>"$run/gl11.err") & pids+=($!)
    win=$(wait_window "popsend" 60) || { echo "no popsend window under Wine with OpenGL 1.1: $(cat "$run/gl11.err")" >&2; return 1; }
    for _ in $(seq 1 40); do grep -q 'first frame' "$run/gl11.err" && break; sleep 0.25; done
    grep -q 'renderer: cpu (no OpenGL context could be made)' "$run/gl11.err" \
        || { echo "popsend.exe under OpenGL 1.1 did not take the CPU path: $(cat "$run/gl11.err")" >&2; return 1; }
    tr -d '\r' < "$run/gl11.err"
    import -window "$win" "$shots/packaging-windows-cpu.png"
    echo "screenshot: docs/screenshots/packaging-windows-cpu.png (OpenGL 1.1 only: the CPU path)"
    wineserver -k || true
    sleep 1

    # `popsend serve --at-login` (what 「ログイン時に起動する」 runs) holds the folder; a window that
    # opens asks it to step aside over the named pipe (YIELD), and it ends; a second serve beside
    # the window does not start.
    port=2597
    printf '\n[submission]\nenabled = true\nport = %s\n' "$port" >> "$run/config.toml"
    rm -f "$run/serve.rc"
    (cd "$run" && POPSEND_LANG=ja POPSEND_PASSWORD=x timeout 150 wine ./popsend.exe --config "$cfg" --data-dir "$data" serve --at-login \
        > "$run/serve.out" 2>&1; echo $? > "$run/serve.rc") & pids+=($!)
    for _ in $(seq 1 100); do grep -q "$port" "$run/serve.out" 2>/dev/null && break; sleep 0.3; done
    grep -q "$port" "$run/serve.out" || { echo "popsend serve did not start under Wine: $(cat "$run/serve.out")" >&2; return 1; }
    started=$(date +%s%N)
    (cd "$run" && POPSEND_LANG=ja POPSEND_PASSWORD=x wine ./popsend.exe --config "$cfg" --data-dir "$data" >/dev/null 2>&1) & pids+=($!)
    wait_window "popsend" 90 >/dev/null || { echo "no window once popsend serve held the folder, under Wine" >&2; return 1; }
    echo "window shown $(( ($(date +%s%N) - started) / 1000000 )) ms after its start, popsend serve holding the folder"
    for _ in $(seq 1 100); do [ -s "$run/serve.rc" ] && break; sleep 0.3; done
    [ "$(cat "$run/serve.rc" 2>/dev/null)" = 0 ] && grep -q '画面に引き継いで終了します' "$run/serve.out" \
        || { echo "popsend serve did not step aside under Wine (exit $(cat "$run/serve.rc" 2>/dev/null)): $(cat "$run/serve.out")" >&2; return 1; }
    echo "popsend serve stepped aside (exit 0): $(tr -d '\r' < "$run/serve.out" | grep -m1 '画面に引き継いで')"
    second=$(cd "$run" && POPSEND_LANG=ja POPSEND_PASSWORD=x timeout 60 wine ./popsend.exe --config "$cfg" --data-dir "$data" serve 2>&1 | tr -d '\r'; echo "exit ${PIPESTATUS[0]}")
    grep -q 'exit 1' <<<"$second" && grep -q 'すでに popsend の画面か別の popsend serve が使っています' <<<"$second" \
        || { echo "a second popsend serve beside the window, under Wine: $second" >&2; return 1; }
    echo "a second popsend serve beside the window: not started (exit 1)"
    wineserver -k || true
    sleep 1

    say "windows: installer"
    setup=$(bash packaging/windows/make-installer.sh "$exe" "$out/popsend-$version-setup.exe" | tail -n1)
    echo "$setup: $(size "$setup")"
    wine "$setup" /S
    sleep 2
    inst=$(winepath -u "$(wine cmd /c 'echo %LOCALAPPDATA%' 2>/dev/null | tr -d '\r')")/Programs/PopSend
    [ -f "$inst/popsend.exe" ] && [ -f "$inst/uninstall.exe" ] || { echo "not installed in $inst" >&2; return 1; }
    echo "installed: $inst"
    # Does the key $1 hold text matching $2? (Output captured first: no early-exit pipes.)
    has() { local out; out=$(wine reg query "$1" 2>/dev/null | tr -d '\r' || true); grep -q -- "$2" <<<"$out"; }
    has 'HKCU\Software\Clients\Mail\PopSend\Capabilities\URLAssociations' "$id.mailto" || { echo "mailto capability missing" >&2; return 1; }
    has 'HKCU\Software\RegisteredApplications' PopSend || { echo "RegisteredApplications missing" >&2; return 1; }
    has "HKCU\\Software\\Classes\\$id.mailto\\shell\\open\\command" 'popsend.exe" "%1"' || { echo "the mailto ProgID's command is wrong" >&2; return 1; }
    has 'HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\PopSend' DisplayVersion || { echo "no uninstall entry" >&2; return 1; }
    if has 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run' popsend; then echo "the installer turned autostart on" >&2; return 1; fi
    echo "registry: mailto ProgID, Clients\\Mail capabilities, RegisteredApplications, uninstall entry; no autostart"
    wine "$inst/uninstall.exe" /S
    sleep 3
    [ ! -e "$inst/popsend.exe" ] || { echo "uninstall left popsend.exe" >&2; return 1; }
    if has 'HKCU\Software\RegisteredApplications' PopSend; then echo "uninstall left RegisteredApplications" >&2; return 1; fi
    if has 'HKCU\Software\Clients\Mail\PopSend' PopSend; then echo "uninstall left Clients\\Mail\\PopSend" >&2; return 1; fi
    echo "uninstalled: files and keys gone"
    wineserver -k || true
}

macos() {
    say "macos: bundle layout (Linux binary as a stand-in) and metadata"
    bin=target/release/popsend
    [ -x "$bin" ] || bin=target/debug/popsend
    [ -x "$bin" ] || cargo build --locked
    app=$(bash packaging/macos/make-app.sh "$bin" "$out/macos" | tail -n1)
    python3 packaging/macos/check_plist.py "$app"
    icns2png -l packaging/icons/popsend.icns | grep -E "^\s+'"
    find "$app" -type f | sed "s|$out/macos/||"
}

for p in "${parts[@]}"; do
    case "$p" in
        linux|windows|macos) "$p" ;;
        *) echo "check-all.sh: unknown part $p (linux, windows, macos)" >&2; exit 2 ;;
    esac
done
say "all packaging checks passed (${parts[*]})"
