#!/usr/bin/env bash
# charter developer entry point.
#
#   ./installers/dev.sh setup                 set up only (Debian packages, .venv, dependencies)
#   ./installers/dev.sh run [charter args]    set up, then run charter (no args: the GUI on the demo store)
#   ./installers/dev.sh test [pytest args]    set up, check import contracts, then run pytest
#
# Set-up is idempotent and does nothing when nothing changed:
#   - Debian packages: installed with apt-get when running as root; skipped entirely when the stamp
#     .venv/.charter-apt-stamp records the same package list. Not root: missing ones are listed.
#   - .venv is created with Python 3.11 (python3 -m venv); uv is installed into it with pip.
#   - installers/requirements.lock and the editable project are (re)installed only when the lock
#     file, pyproject.toml or the uv version changed (hash in .venv/.charter-deps-stamp).
# Nothing pre-installed is relied on except python3 (3.11) and apt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
LOCK_FILE="installers/requirements.lock"
UV_VERSION="0.13.9"
APT_STAMP="$VENV/.charter-apt-stamp"
DEPS_STAMP="$VENV/.charter-deps-stamp"

# Debian packages: Xvfb + the libraries Qt links against (libegl1, libgl1, libfontconfig1,
# libglib2.0-0 even offscreen; the libxcb-* ones for the xcb plugin, a real window under xvfb-run;
# libdbus-1-3 is loaded by QtDBus at run time), PostgreSQL for the test fixtures,
# poppler/ImageMagick to look at PDFs and screens, DejaVu for non-Latin-1 text in reports,
# OpenSSH server for the throwaway SSH test server, GNOME Keyring and a D-Bus daemon for the real
# OS keyring the secrets tests use.
APT_PACKAGES=(
    xvfb xauth
    libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxcb-shape0 libxkbcommon-x11-0
    libegl1 libgl1 libfontconfig1 libglib2.0-0 libdbus-1-3
    postgresql
    poppler-utils imagemagick fonts-dejavu-core
    openssh-server iproute2
    gnome-keyring dbus-daemon
)

export UV_PYTHON_DOWNLOADS=never
export UV_NO_PROGRESS=1
# Trust the system CA store (/etc/ssl/certs), as apt and pip do, not only uv's bundled roots.
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"

say() { printf 'dev.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: ./installers/dev.sh setup
       ./installers/dev.sh run [charter args...]
       ./installers/dev.sh test [pytest args...]
EOF
}

# --- set-up ----------------------------------------------------------------------------------

find_python() {
    local c
    for c in "${CHARTER_PYTHON:-}" python3.11 python3; do
        [ -n "$c" ] || continue
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [ -x "$VPY" ] &&
        "$VPY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
        return 0
    fi
    local py
    py="$(find_python)" || die "Python 3.11 not found (tried python3.11, python3; set CHARTER_PYTHON)"
    if [ -e "$VENV" ]; then
        say "recreating broken or wrong-version $VENV"
        rm -rf "$VENV"
    fi
    say "creating .venv with $py"
    "$py" -m venv "$VENV"
}

missing_apt_packages() {
    local p status
    for p in "${APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
        [ "$status" = "installed" ] || printf '%s\n' "$p"
    done
}

ensure_apt() {
    local want
    want="$(printf '%s\n' "${APT_PACKAGES[@]}")"
    if [ -f "$APT_STAMP" ] && [ "$(cat "$APT_STAMP")" = "$want" ]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "warning: not a Debian system (no apt-get/dpkg-query); install the equivalents of: ${APT_PACKAGES[*]}"
        return 0
    fi
    local missing=()
    mapfile -t missing < <(missing_apt_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            say "warning: missing Debian packages (not root, not installing): ${missing[*]}"
            say "         as root: apt-get install -y --no-install-recommends ${missing[*]}"
            return 0
        fi
        say "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        mapfile -t missing < <(missing_apt_packages)
        [ "${#missing[@]}" -eq 0 ] || die "apt-get did not install: ${missing[*]}"
    fi
    printf '%s\n' "$want" >"$APT_STAMP"
}

ensure_python_deps() {
    local want
    want="$(
        {
            printf 'uv %s\n' "$UV_VERSION"
            sha256sum "$LOCK_FILE" pyproject.toml
        } | sha256sum | cut -d' ' -f1
    )"
    if [ -f "$DEPS_STAMP" ] && [ "$(cat "$DEPS_STAMP")" = "$want" ] && [ -x "$VENV/bin/uv" ]; then
        return 0
    fi
    rm -f "$DEPS_STAMP"
    if ! [ -x "$VENV/bin/uv" ] || [ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
        say "installing uv $UV_VERSION into .venv"
        # (the grep drops pip's noise about find-links/index folders in this machine's pip.conf)
        "$VPY" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
            2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    fi
    say "installing $LOCK_FILE and the project (editable) into .venv"
    "$VENV/bin/uv" pip install --quiet --python "$VPY" --compile-bytecode -r "$LOCK_FILE"
    "$VENV/bin/uv" pip install --quiet --python "$VPY" --no-deps -e .
    printf '%s\n' "$want" >"$DEPS_STAMP"
}

setup() {
    # Serialise concurrent set-ups of the same checkout (lock file outside the work tree).
    if command -v flock >/dev/null 2>&1; then
        local lock
        lock="${TMPDIR:-/tmp}/charter-dev-$(printf '%s' "$ROOT" | sha256sum | cut -c1-16).lock"
        exec 9>"$lock"
        flock 9
    fi
    ensure_venv
    ensure_apt
    ensure_python_deps
    if command -v flock >/dev/null 2>&1; then
        exec 9>&-
    fi
}

# --- commands --------------------------------------------------------------------------------

have_display() {
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
        return 0
    fi
    # An explicit non-windowing Qt platform (offscreen, minimal, vnc, ...) needs no display.
    case "${QT_QPA_PLATFORM:-}" in
        "" | xcb* | wayland*) return 1 ;;
        *) return 0 ;;
    esac
}

cmd_run() {
    setup
    if [ "$#" -gt 0 ]; then
        exec "$VENV/bin/charter" "$@"
    fi
    if ! have_display; then
        cat >&2 <<'EOF'
dev.sh: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the charter window cannot open.
  - on a machine without a screen, run it under a virtual X server:
        xvfb-run -a ./installers/dev.sh run
  - or use the headless subcommands, e.g.:
        ./installers/dev.sh run --help
EOF
        exit 2
    fi
    # The project is installed editable and PYTHONDONTWRITEBYTECODE may be set machine-wide:
    # compile our own modules once so the console starts without compiling them every time.
    "$VPY" -m compileall -q app core views >/dev/null || true
    "$VENV/bin/charter" demo --if-missing
    exec "$VENV/bin/charter" --demo
}

cmd_test() {
    setup
    export QT_QPA_PLATFORM=offscreen
    "$VENV/bin/lint-imports" --no-cache --no-logo
    exec "$VPY" -m pytest "$@"
}

main() {
    local cmd="${1:-}"
    [ "$#" -gt 0 ] && shift
    case "$cmd" in
        setup) setup ;;
        run) cmd_run "$@" ;;
        test) cmd_test "$@" ;;
        -h | --help | help)
            usage
            exit 0
            ;;
        *)
            usage
            exit 2
            ;;
    esac
}

main "$@"
