#!/usr/bin/env bash
# Libreswan's pluto on a host of the two-host lab (scripts/lab.sh), run from the unpacked package
# (scripts/libreswan-fetch.sh) without installing it. The host's charon is stopped; pluto runs in
# the host's network namespace and its own mount namespace, where:
#   - the package's /usr/libexec/ipsec is overlaid on /usr/libexec (pluto runs addconn and _updown
#     from that compiled-in path) and its /usr/sbin/ipsec on /usr/sbin (updown calls `ipsec`, which
#     would otherwise be strongSwan's);
#   - a private directory is bind-mounted over /run (pluto's dump dir is /run/pluto);
#   - HOSTDIR/pluto/resolv.conf, if present, is bind-mounted over /etc/resolv.conf (pluto's
#     libunbound reads it for %dnsondemand lookups).
# Each pluto has its own NSS database, ipsec.conf, ipsec.secrets and control socket
# HOSTDIR/pluto/run/pluto/pluto.ctl (a filesystem path: whack reaches it from any namespace).
# Needs root.
#   scripts/pluto-lab.sh fetch                     fetch Libreswan if needed, print its prefix
#   scripts/pluto-lab.sh up DIR                    lab.sh up DIR, then pluto replaces host a's charon
#   scripts/pluto-lab.sh start DIR a|b             (re)start pluto on a host of the lab in DIR
#   scripts/pluto-lab.sh stop DIR a|b              stop that pluto
#   scripts/pluto-lab.sh import-key DIR a|b PEM    put an `oedns keygen` RSA key in its NSS db, print the CKAID
#   scripts/pluto-lab.sh whack DIR a|b ARGS...     whack against that pluto
#   scripts/pluto-lab.sh status DIR                plutos and their states
#   scripts/pluto-lab.sh down DIR                  stop plutos, then lab.sh down (safe to repeat)
# HOSTDIR/pluto/ipsec.conf is written only if missing, so a caller may write its own (with a
# `config setup` section) before `start`; the log file is always HOSTDIR/pluto/pluto.log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}

prefix() { bash "$here/libreswan-fetch.sh"; }

if [ "$cmd" = fetch ]; then prefix; exit 0; fi

dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 fetch | up|down|status DIR | start|stop|import-key|whack DIR a|b ..." >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

host_ns() { # host -> its namespace, from lab.sh's lab.env
  # shellcheck disable=SC1091
  . "$dir/lab.env"
  if [ "$1" = a ]; then echo "$NS_A"; else echo "$NS_B"; fi
}
host_addr() { if [ "$1" = a ]; then echo 192.0.2.1; else echo 192.0.2.2; fi; }

# Variables for one host's pluto; `ipsec` (the package's script) then works on its own files.
setup_env() { # host
  h=$1
  case "$h" in a|b) ;; *) echo "host must be a or b" >&2; exit 2 ;; esac
  R=$(bash "$here/libreswan-fetch.sh" --check) || { echo "Libreswan is not fetched: run $0 fetch" >&2; exit 1; }
  P="$dir/$h/pluto"
  LIBDIR="$R/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
  export LD_LIBRARY_PATH="$LIBDIR" PATH="$R/usr/sbin:$R/usr/bin:$PATH"
  export IPSEC_EXECDIR="$R/usr/libexec/ipsec" IPSEC_SBINDIR="$R/usr/sbin" IPSEC_CONFDDIR="$P/ipsec.d" IPSEC_NSSDIR="$P/nss"
  WHACK="$R/usr/libexec/ipsec/whack"
  CTL="$P/run/pluto/pluto.ctl"
}

stop_pidfile() { # pid file: TERM its process, KILL it after 5 s, remove the file
  local f="$1" pid
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_charon() { # host: the lab's charon on that host must not hold UDP 500
  [ -f "$dir/$1/charon.pid" ] || return 0
  stop_pidfile "$dir/$1/charon.pid"
  rm -f "$dir/$1/charon.vici" "$dir/$1/charon.enfy"
}

stop_pluto() { # host
  [ -f "$dir/$1/pluto/pluto.pid" ] || return 0
  stop_pidfile "$dir/$1/pluto/pluto.pid"
}

start_pluto() { # host
  setup_env "$1"
  local ns addr
  ns=$(host_ns "$h")
  addr=$(host_addr "$h")
  stop_charon "$h"
  stop_pluto "$h"
  mkdir -p "$P/nss" "$P/run/pluto" "$P/ipsec.d"
  rm -f "$P/run/pluto/pluto.pid" "$CTL"
  [ -f "$P/nss/cert9.db" ] || ipsec initnss --nssdir "$P/nss" >/dev/null
  [ -f "$P/ipsec.secrets" ] || : > "$P/ipsec.secrets"
  [ -f "$P/ipsec.conf" ] || printf 'config setup\n\tplutodebug=none\n' > "$P/ipsec.conf"
  printf 'PREFIX=%s\nWHACK=%s\nCTLSOCKET=%s\nNSSDIR=%s\nLD_LIBRARY_PATH=%s\nNS=%s\nADDR=%s\nLOG=%s\n' \
    "$R" "$WHACK" "$CTL" "$P/nss" "$LD_LIBRARY_PATH" "$ns" "$addr" "$P/pluto.log" > "$P/pluto.env"
  local mounts="mount --bind '$P/run' /run"
  mounts="$mounts && mount -t overlay overlay -o ro,lowerdir=/usr/libexec:'$R/usr/libexec' /usr/libexec"
  mounts="$mounts && mount -t overlay overlay -o ro,lowerdir='$R/usr/sbin':/usr/sbin /usr/sbin"
  [ -f "$P/resolv.conf" ] && mounts="$mounts && mount --bind '$P/resolv.conf' /etc/resolv.conf"
  # ip netns exec and unshare both exec (unshare makes the new mounts private), so $! is pluto's pid.
  # --config comes first: later options override its `config setup`.
  ip netns exec "$ns" unshare -m sh -c "$mounts && exec '$R/usr/libexec/ipsec/pluto' --config '$P/ipsec.conf' \
    --nofork --logfile '$P/pluto.log' --rundir '$P/run/pluto' --nssdir '$P/nss' --secretsfile '$P/ipsec.secrets' \
    --ipsecdir '$P/ipsec.d'" >> "$P/pluto.out" 2>&1 < /dev/null &
  echo $! > "$P/pluto.pid"
  for _ in $(seq 1 100); do
    if [ -S "$CTL" ] && "$WHACK" --ctlsocket "$CTL" --status >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$P/pluto.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "pluto on host $h did not come up; see $P/pluto.out and $P/pluto.log" >&2
  return 1
}

case "$cmd" in
  up)
    bash "$here/lab.sh" up "$dir" >/dev/null
    start_pluto a || { bash "$0" down "$dir"; exit 1; }
    cat "$dir/lab.env" "$dir/a/pluto/pluto.env"
    ;;
  start)
    start_pluto "${3:?host a or b}"
    ;;
  stop)
    stop_pluto "${3:?host a or b}"
    ;;
  import-key)
    setup_env "${3:?host a or b}"
    pem=${4:?PEM private key file}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # NSS imports private keys from PKCS#12 only, which needs a certificate: make a throwaway
    # self-signed one, import both, then delete the certificate (the key stays, found by CKAID).
    openssl req -new -x509 -key "$pem" -subj "/CN=oedns-import" -days 1 -out "$work/cert.pem" 2>/dev/null
    openssl pkcs12 -export -inkey "$pem" -in "$work/cert.pem" -name oedns-import -passout pass: -out "$work/key.p12"
    pk12util -i "$work/key.p12" -d "sql:$P/nss" -W '' >/dev/null
    certutil -D -n oedns-import -d "sql:$P/nss"
    # CKAID of an RSA key: SHA-1 of its modulus (what `ipsec showhostkey --list` prints).
    ckaid=$(openssl rsa -in "$pem" -noout -modulus 2>/dev/null | sed 's/^Modulus=//' | perl -ne 'chomp; print pack("H*", $_)' | sha1sum | cut -d' ' -f1)
    ipsec showhostkey --nssdir "$P/nss" --list 2>/dev/null | grep -q "ckaid: $ckaid" || { echo "key not found in NSS after import" >&2; exit 1; }
    echo "$ckaid"
    ;;
  whack)
    setup_env "${3:?host a or b}"
    shift 3
    exec "$WHACK" --ctlsocket "$CTL" "$@"
    ;;
  status)
    cat "$dir/lab.env" 2>/dev/null || true
    for h in a b; do
      f="$dir/$h/pluto/pluto.pid"
      if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then
        setup_env "$h"
        echo "pluto $h: running (pid $(cat "$f")), ctl socket $CTL"
        "$WHACK" --ctlsocket "$CTL" --showstates || true
      else
        echo "pluto $h: not running"
      fi
    done
    ;;
  down)
    stop_pluto a
    stop_pluto b
    [ -f "$dir/lab.env" ] && bash "$here/lab.sh" down "$dir"
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
