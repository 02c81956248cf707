#!/usr/bin/env bash
# Builds burrow and installs it:
#   PREFIX/bin/burrow                     root:root 0755
#   PREFIX/libexec/burrow/burrow-helper   root:root 4755 (setuid root)
#   /etc/burrow/usernet, /etc/burrow/cgroup   commented examples, only if absent
# Re-running it is harmless: binaries are replaced, policy files never are.
set -euo pipefail

usage() {
    echo "usage: ./install.sh [--prefix DIR] [--sysconfdir DIR]"
    echo "  --prefix DIR      where to install (default /usr/local)"
    echo "  --sysconfdir DIR  where the example policy files go (default /etc/burrow,"
    echo "                    where burrow-helper reads them; change it only for testing)"
}

prefix=/usr/local
sysconfdir=/etc/burrow
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { usage >&2; exit 64; }; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --sysconfdir) [ $# -ge 2 ] || { usage >&2; exit 64; }; sysconfdir=$2; shift 2 ;;
        --sysconfdir=*) sysconfdir=${1#--sysconfdir=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage >&2; exit 64 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: must run as root (it installs a setuid-root helper): sudo ./install.sh" >&2
    exit 1
fi
cd "$(dirname "$0")"

# The helper's policy paths are compiled in from BURROW_* variables, if set
# (for test builds): never let a stray one move them.
for variable in $(compgen -e | grep '^BURROW_' || true); do unset "$variable"; done

# Under sudo, build as the invoking user, with their toolchain, so the
# checkout's target/ stays theirs; only the install below needs root.
build=(cargo build --release --locked -p burrow -p burrow-helper)
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    sudo -u "$SUDO_USER" env -u CARGO_TARGET_DIR HOME="$user_home" PATH="$user_home/.cargo/bin:$PATH" "${build[@]}" ||
        { echo "install.sh: building as $SUDO_USER failed (is a Rust toolchain installed for $SUDO_USER?)" >&2; exit 1; }
    release=target/release
else
    command -v cargo >/dev/null || { echo "install.sh: cargo not found: install a Rust toolchain first" >&2; exit 1; }
    "${build[@]}"
    release="${CARGO_TARGET_DIR:-target}/release"
fi

install -d -o root -g root -m 0755 "$prefix/bin" "$prefix/libexec" "$prefix/libexec/burrow"
install -o root -g root -m 0755 "$release/burrow" "$prefix/bin/burrow"
install -o root -g root -m 4755 "$release/burrow-helper" "$prefix/libexec/burrow/burrow-helper"
echo "installed $prefix/bin/burrow and $prefix/libexec/burrow/burrow-helper (setuid root)"

install -d -o root -g root -m 0755 "$sysconfdir"

example() { # FILE: writes stdin to FILE unless FILE exists
    if [ -e "$1" ]; then
        echo "kept $1"
        cat >/dev/null
    else
        install -o root -g root -m 0644 /dev/stdin "$1"
        echo "wrote $1 (commented examples)"
    fi
}

example "$sysconfdir/usernet" <<'POLICY'
# burrow: who may create how many veth pairs on which bridge
# (burrow run --net bridge:BRIDGE). Read by burrow-helper; must stay owned by
# root, readable by all, writable by no one else.
#
# One rule per line, as lxc's lxc-usernet; a user's allowance on a bridge is
# the sum of the lines naming them or one of their groups:
#   USER|@GROUP  veth  BRIDGE  COUNT
#
# alice    veth  burrow0  4
# @burrow  veth  burrow0  2
POLICY

example "$sysconfdir/cgroup" <<'POLICY'
# burrow: where users get a delegated cgroup, and its ceilings
# (burrow run --memory, --pids-limit, --cpus ...). Read by burrow-helper; must
# stay owned by root, readable by all, writable by no one else.
#
# One rule per line, the first matching line wins; * matches every user:
#   USER|@GROUP|*  WHERE  [KEY=VALUE ...]
# WHERE is a cgroup path below each hierarchy's root (the user's cgroup is
# WHERE/burrow-UID), or nest: below the user's own current cgroup. Ceilings:
# pids.max, memory.max, memory.swap.max, cpu.max, cpu.weight.
#
# alice    /burrow  memory.max=2G pids.max=512
# *        nest     memory.max=512M pids.max=256
POLICY

# Subordinate ids: only told, never changed behind the user's back.
user=${SUDO_USER:-}
if [ -n "$user" ] && [ "$user" != root ]; then
    uid=$(id -u "$user")
    has_range() { [ -f "$1" ] && grep -Eq "^($user|$uid):" "$1"; }
    if ! has_range /etc/subuid || ! has_range /etc/subgid; then
        # A free range: above every range in either file, at least 100000.
        start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '
            NF == 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { if ($2 + $3 > end) end = $2 + $3 }
            END { if (end < 100000) end = 100000; printf "%d\n", int((end + 65535) / 65536) * 65536 }')
        echo
        echo "$user has no subordinate id range in /etc/subuid or /etc/subgid: burrow will map"
        echo "only your own id into containers. To grant one (this range is unused here):"
        echo "  sudo usermod --add-subuids $start-$((start + 65535)) --add-subgids $start-$((start + 65535)) $user"
    fi
fi
