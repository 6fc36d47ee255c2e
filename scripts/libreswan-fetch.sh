#!/usr/bin/env bash
# Fetches Libreswan without installing it. Debian's `libreswan` package conflicts with the strongSwan
# packages oedns is tested against, so its files are unpacked (dpkg-deb -x) into a private prefix that
# scripts/pluto-lab.sh runs pluto from. Also unpacked there: the library packages it needs that are
# not installed (e.g. libevent-pthreads) and libnss3-tools (certutil/pk12util, for its NSS database).
# Nothing is installed on the system; the prefix is a cache, reused by every test run.
#   scripts/libreswan-fetch.sh          fetch if needed, print the prefix
#   scripts/libreswan-fetch.sh --check  print the prefix if already fetched, else exit 1
# The prefix is ${OEDNS_LIBRESWAN_CACHE:-/var/cache/oedns/libreswan}/root; it is ready when
# root/.oedns-fetched exists (it lists the packages and versions unpacked).
set -euo pipefail

cache=${OEDNS_LIBRESWAN_CACHE:-/var/cache/oedns/libreswan}
root="$cache/root"
stamp="$root/.oedns-fetched"

ready() {
  [ -f "$stamp" ] && [ -x "$root/usr/libexec/ipsec/pluto" ] && [ -x "$root/usr/libexec/ipsec/whack" ]
}

if [ "${1:-}" = --check ]; then
  ready && { echo "$root"; exit 0; }
  exit 1
fi
if ready; then echo "$root"; exit 0; fi

mkdir -p "$cache"
# Test runs in several checkouts may fetch at once: one at a time, and the later ones find it done.
exec 9> "$cache/.lock"
flock 9
if ready; then echo "$root"; exit 0; fi
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

download() { # packages...: apt-get download, refreshing the package lists once if they are stale
  apt-get download -qq "$@" >/dev/null 2>&1 && return 0
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download -qq "$@" >/dev/null
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

download libreswan
deb=$(ls libreswan_*.deb)
# Library dependencies (first alternative of each) that the system lacks. The others (iptables, host,
# iproute2) are used only by parts of Libreswan the lab does not run, or are installed already.
extra=(libnss3-tools)
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g')
for d in $deps; do
  case "$d" in lib*) installed "$d" || extra+=("$d") ;; esac
done
download "${extra[@]}"

mkdir -p root.new
for f in *.deb; do dpkg-deb -x "$f" root.new; done
for f in *.deb; do dpkg-deb --showformat='${Package} ${Version}\n' -W "$f"; done > root.new/.oedns-fetched.tmp

# Every binary the lab runs must find its libraries (system ones, or those unpacked beside it).
libdir="root.new/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
for b in usr/libexec/ipsec/pluto usr/libexec/ipsec/whack usr/libexec/ipsec/addconn usr/bin/certutil usr/bin/pk12util; do
  if LD_LIBRARY_PATH="$libdir" ldd "root.new/$b" | grep -q 'not found'; then
    echo "libreswan-fetch: $b is missing libraries:" >&2
    LD_LIBRARY_PATH="$libdir" ldd "root.new/$b" | grep 'not found' >&2
    exit 1
  fi
done

mv root.new/.oedns-fetched.tmp root.new/.oedns-fetched
rm -rf "$root"
mv root.new "$root"
echo "$root"
