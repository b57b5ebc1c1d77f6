#!/bin/sh
# Installs the charter-agent runtime from this offline kit. Uses no network.
#
#   sh install.sh ROOT [--port PORT] [--systemd | --no-systemd]
#
# Every file of the kit is checked against KIT.json first: nothing is installed from a damaged or
# altered kit. ROOT then holds:
#   runtime -> runtimes/<version>-<kit id>-<time>   a Python venv with charter-agent (KIT.json in it)
#   releases/  current -> releases/<id>              written by Charter's deployments
#   log/  run/  agent.conf (PORT, HOST)  bin/charter-agentctl
# Re-running with the same kit changes nothing. Another kit is installed beside the runtime in
# use and the `runtime` link is switched to it in one rename, only once it is complete.
# --systemd (the default when run as root on a systemd server) installs and enables
# /etc/systemd/system/charter-agent.service for ROOT. PYTHON=/path/to/python3.X picks the Python.
set -eu

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { printf 'usage: sh install.sh ROOT [--port PORT] [--systemd | --no-systemd]\n' >&2; exit 2; }

KIT_DIR=$(cd "$(dirname "$0")" && pwd -P)
UNIT=/etc/systemd/system/charter-agent.service
unset PYTHONPATH PYTHONHOME
umask 022

[ $# -ge 1 ] || usage
case $1 in -*) usage ;; esac
ROOT=$1
shift
PORT=""
SYSTEMD=auto
while [ $# -gt 0 ]; do
    case $1 in
        --port) [ $# -ge 2 ] || usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#--port=}; shift ;;
        --systemd) SYSTEMD=yes; shift ;;
        --no-systemd) SYSTEMD=no; shift ;;
        *) usage ;;
    esac
done
case $PORT in
    "") ;;
    *[!0-9]*) die "--port takes a number from 1 to 65535, not '$PORT'" ;;
    *) { [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ]; } || die "--port takes a number from 1 to 65535, not '$PORT'" ;;
esac
case $ROOT in
    *[!A-Za-z0-9/._-]*) die "ROOT '$ROOT' may hold only letters, digits and / . _ -" ;;
    /*) ;;
    *) ROOT="$(pwd -P)/$ROOT" ;;
esac

# ---- what the kit is for ------------------------------------------------------------------------
[ -f "$KIT_DIR/KIT.json" ] || die "there is no KIT.json beside install.sh: unpack the whole kit (tar xzf charter-agent-kit-*.tar.gz) and run the install.sh in its folder"
# KIT.json is written by Charter with one top-level field a line; these are read before any
# Python is known to work.
kit_field() { sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\\{0,1\\}\$/\\1/p" "$KIT_DIR/KIT.json" | head -n 1; }
FORMAT=$(kit_field format)
[ "$FORMAT" = "charter-agent-kit/1" ] || die "KIT.json is not a charter-agent kit manifest this install.sh reads (format '$FORMAT'); upload the kit again"
VERSION=$(kit_field agent_version)
KIT_PY=$(kit_field python)
KIT_MACHINE=$(kit_field machine)
GLIBC_MIN=$(kit_field glibc_min)
{ [ -n "$VERSION" ] && [ -n "$KIT_PY" ] && [ -n "$KIT_MACHINE" ]; } || die "KIT.json lacks agent_version, python or machine; upload the kit again"

MACHINE=$(uname -m)
[ "$MACHINE" = "$KIT_MACHINE" ] || die "this kit is for $KIT_MACHINE servers but this one is $MACHINE: build a kit for $MACHINE in Charter (the server's preflight finds it) and install that"

py_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
PY=""
SEEN=""
for c in ${PYTHON:-python3 python$KIT_PY}; do
    command -v "$c" >/dev/null 2>&1 || continue
    v=$(py_version "$c") || continue
    if [ "$v" = "$KIT_PY" ]; then
        PY=$(command -v "$c")
        break
    fi
    SEEN="$SEEN $(command -v "$c") is Python $v;"
done
[ -n "$PY" ] || die "this kit is for Python $KIT_PY, but${SEEN:- no python3 is on PATH;} nothing was installed. Build a kit for this server's Python in Charter (its preflight reads the version), or install Python $KIT_PY and run again (PYTHON=/path/to/python$KIT_PY picks one that is not python3)"

if [ -n "$GLIBC_MIN" ]; then
    HAVE=$("$PY" -c 'import platform, sys
lib, ver = platform.libc_ver()
need = tuple(int(x) for x in sys.argv[1].split("."))
have = tuple(int(x) for x in ver.split(".")) if lib == "glibc" and ver else None
print("ok" if have and have >= need else (ver or "no glibc"))' "$GLIBC_MIN")
    [ "$HAVE" = ok ] || die "this kit's wheels need glibc $GLIBC_MIN or newer, but this server has $HAVE: build the kit in Charter after a preflight of this server (it picks wheels for its glibc)"
fi

# ---- every file as built ------------------------------------------------------------------------
TMP=$(mktemp -d)
PARTIAL=""
cleanup() { rm -rf "$TMP"; if [ -n "$PARTIAL" ]; then rm -rf "$PARTIAL"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$KIT_DIR"
"$PY" -c 'import json, sys
files = json.load(open("KIT.json", encoding="utf-8"))["files"]
for name, digest in sorted(files.items()):
    if name.startswith("/") or ".." in name.split("/") or "\n" in name or len(digest) != 64:
        sys.exit("unsafe entry %r" % name)
    print("%s  %s" % (digest, name))' >"$TMP/sums" 2>"$TMP/err" || die "KIT.json cannot be read ($(tail -n 1 "$TMP/err")); upload the kit again"
find . -type f ! -path ./KIT.json | sed 's|^\./||' | LC_ALL=C sort >"$TMP/present"
sed 's/^[0-9a-f]*  //' "$TMP/sums" | LC_ALL=C sort >"$TMP/listed"
EXTRA=$(LC_ALL=C comm -23 "$TMP/present" "$TMP/listed" | tr '\n' ' ')
[ -z "$EXTRA" ] || die "the kit's folder holds files that KIT.json does not list: $EXTRA- nothing was installed. Unpack the kit into an empty folder and run again"
if ! sha256sum --strict --quiet -c "$TMP/sums" >"$TMP/check" 2>&1; then
    BAD=$(grep -v '^sha256sum:' "$TMP/check" | tr '\n' ' ')
    die "these files of the kit do not match KIT.json: ${BAD}- the kit was damaged or altered after it was built, and nothing was installed. Upload it again and check its SHA-256 against the one Charter shows"
fi
say "all $(wc -l <"$TMP/sums" | tr -d ' ') files of kit $VERSION match KIT.json"

# ---- the runtime --------------------------------------------------------------------------------
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd -P)
mkdir -p "$ROOT/runtimes" "$ROOT/releases" "$ROOT/log" "$ROOT/run" "$ROOT/bin"
if [ -e "$ROOT/runtime" ] && [ ! -L "$ROOT/runtime" ]; then
    die "$ROOT/runtime is a folder, not the link this installer makes: move it away and run again"
fi
CHANGED=no
if [ -x "$ROOT/runtime/bin/charter-agent" ] && cmp -s KIT.json "$ROOT/runtime/KIT.json"; then
    say "the runtime from this kit is already installed ($(readlink "$ROOT/runtime")); nothing to change"
else
    OLD=$(readlink "$ROOT/runtime" 2>/dev/null || true)
    NEW="runtimes/$VERSION-$(sha256sum KIT.json | cut -c1-12)-$(date -u +%Y%m%dT%H%M%SZ)"
    PARTIAL="$ROOT/$NEW"
    say "creating $ROOT/$NEW with $PY"
    "$PY" -m venv --without-pip "$ROOT/$NEW" >"$TMP/venv.out" 2>&1 || die "'$PY -m venv' failed: $(tail -n 3 "$TMP/venv.out" | tr '\n' ' ')- install the python3-venv package (Debian, Ubuntu) and run again"
    set -- wheels/pip-*.whl
    [ -f "$1" ] || die "the kit has no pip wheel; upload the kit again"
    say "installing charter-agent $VERSION and its requirements from the kit's wheels"
    PIP_CONFIG_FILE=/dev/null "$ROOT/$NEW/bin/python" "$KIT_DIR/$1/pip" install --isolated \
        --no-index --find-links "$KIT_DIR/wheels" --no-cache-dir --disable-pip-version-check \
        --no-input --no-warn-script-location "charter-agent==$VERSION" >"$TMP/pip.out" 2>&1 \
        || die "pip could not install charter-agent from the kit: $(tail -n 6 "$TMP/pip.out" | tr '\n' ' ')- the runtime in use, if any, is untouched"
    GOT=$("$ROOT/$NEW/bin/charter-agent" --version 2>&1) || die "the new runtime does not start: $GOT"
    [ "$GOT" = "charter-agent $VERSION" ] || die "the new runtime says '$GOT', not 'charter-agent $VERSION'"
    cp KIT.json "$ROOT/$NEW/KIT.json"
    rm -f "$ROOT/runtime.new"
    ln -s "$NEW" "$ROOT/runtime.new"
    mv -T "$ROOT/runtime.new" "$ROOT/runtime"
    PARTIAL=""
    CHANGED=yes
    # keep the runtime in use and the one before it (an agent may still run from it)
    for d in "$ROOT"/runtimes/*; do
        case ${d#"$ROOT"/} in "$NEW" | "$OLD") ;; *) rm -rf "$d" ;; esac
    done
fi

if [ ! -f "$ROOT/agent.conf" ]; then
    printf 'PORT=%s\nHOST=127.0.0.1\n' "${PORT:-8080}" >"$ROOT/agent.conf"
    say "wrote $ROOT/agent.conf (PORT=${PORT:-8080}, HOST=127.0.0.1)"
elif [ -n "$PORT" ] && ! grep -qx "PORT=$PORT" "$ROOT/agent.conf"; then
    sed -i "s/^PORT=.*/PORT=$PORT/" "$ROOT/agent.conf"
    grep -qx "PORT=$PORT" "$ROOT/agent.conf" || printf 'PORT=%s\n' "$PORT" >>"$ROOT/agent.conf"
    say "set PORT=$PORT in $ROOT/agent.conf"
fi
if ! cmp -s charter-agentctl "$ROOT/bin/charter-agentctl"; then
    cp charter-agentctl "$ROOT/bin/charter-agentctl.new"
    chmod 0755 "$ROOT/bin/charter-agentctl.new"
    mv -f "$ROOT/bin/charter-agentctl.new" "$ROOT/bin/charter-agentctl"
fi

# ---- systemd ------------------------------------------------------------------------------------
if [ "$SYSTEMD" = auto ]; then
    SYSTEMD=no
    if [ "$(id -u)" = 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        SYSTEMD=yes
    fi
fi
if [ "$SYSTEMD" = yes ]; then
    [ "$(id -u)" = 0 ] || die "--systemd needs root (it writes $UNIT); run as root or pass --no-systemd"
    { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; } || die "--systemd: systemd does not run this server; pass --no-systemd and start the agent with $ROOT/bin/charter-agentctl"
    if [ -f "$UNIT" ] && ! grep -qF "ExecStart=$ROOT/runtime/bin/charter-agent " "$UNIT"; then
        die "$UNIT already runs an agent from another folder; pass --no-systemd to install a second agent without systemd"
    fi
    sed "s|@ROOT@|$ROOT|g" charter-agent.service >"$TMP/unit"
    if ! cmp -s "$TMP/unit" "$UNIT"; then
        install -m 0644 "$TMP/unit" "$UNIT"
        systemctl daemon-reload
        say "installed $UNIT"
    fi
    systemctl enable charter-agent.service >/dev/null 2>&1 || die "systemctl enable charter-agent.service failed"
fi

if [ "$CHANGED" = yes ] && "$ROOT/bin/charter-agentctl" status >/dev/null 2>&1; then
    say "the agent still runs the old runtime: stop and start it to use this one ($ROOT/bin/charter-agentctl stop; ... start)"
fi
printf 'charter-agent runtime %s installed in %s\n' "$VERSION" "$ROOT"
