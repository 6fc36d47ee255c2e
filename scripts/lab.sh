#!/usr/bin/env bash
# Two-host IPsec lab: network namespaces A (192.0.2.1, 2001:db8:0:2::1) and B (192.0.2.2,
# 2001:db8:0:2::2: documentation prefixes, existing only in these namespaces) joined by a veth pair, one
# charon per host in its own mount namespace (private /run: charon's pid file path is fixed), each
# with its own strongswan.conf, VICI socket DIR/<host>/charon.vici and kernel-libipsec (this kernel
# cannot hold ESP states). Needs root. Usable by hand:
#   scripts/lab.sh up DIR        create (prints DIR/lab.env: namespace and interface names)
#   scripts/lab.sh status DIR    namespaces, charons, SAs
#   scripts/lab.sh restart DIR a restart host a's charon (state lost, as after a crash)
#   scripts/lab.sh down DIR      kill charons, delete namespaces (safe to repeat)
set -euo pipefail

CHARON=${CHARON:-/usr/lib/ipsec/charon}
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up|down|status|restart DIR [a|b]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# Names carry a suffix unique to DIR so parallel labs do not clash (interface names: <= 15 chars).
if [ -f "$dir/lab.env" ]; then
  # shellcheck disable=SC1091
  . "$dir/lab.env"
else
  SUFFIX=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
  NS_A="oelab-a-$SUFFIX"; NS_B="oelab-b-$SUFFIX"
  IF_A="oea$SUFFIX"; IF_B="oeb$SUFFIX"
  printf 'SUFFIX=%s\nNS_A=%s\nNS_B=%s\nIF_A=%s\nIF_B=%s\nADDR_A=192.0.2.1\nADDR_B=192.0.2.2\nADDR6_A=2001:db8:0:2::1\nADDR6_B=2001:db8:0:2::2\n' \
    "$SUFFIX" "$NS_A" "$NS_B" "$IF_A" "$IF_B" > "$dir/lab.env"
fi
ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
ADDR6_A=2001:db8:0:2::1
ADDR6_B=2001:db8:0:2::2

ns_of() { [ "$1" = a ] && echo "$NS_A" || echo "$NS_B"; }

write_conf() { # host
  local h=$1 d="$dir/$1"
  mkdir -p "$d/run"
  cat > "$d/strongswan.conf" <<EOF
charon {
  filelog {
    lab {
      path = $d/charon.log
      default = 1
      ike = 2
      time_format = %H:%M:%S
    }
  }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici {
      socket = unix://$d/charon.vici
    }
    error-notify {
      socket = unix://$d/charon.enfy
    }
    kernel-libipsec {
      load = yes
      allow_peer_ts = yes
    }
    socket-default {
      fwmark = 0x42
    }
    kernel-netlink {
      fwmark = !0x42
    }
    stroke {
      load = no
    }
    forecast {
      load = no
    }
    farp {
      load = no
    }
    ha {
      load = no
    }
  }
}
EOF
}

start_charon() { # host
  local h=$1 d="$dir/$1" ns
  ns=$(ns_of "$h")
  rm -f "$d/charon.vici" "$d/charon.enfy"
  # ip netns exec and unshare both exec, so $! is charon's own pid.
  ip netns exec "$ns" unshare -m sh -c \
    "mount --bind '$d/run' /run && STRONGSWAN_CONF='$d/strongswan.conf' exec '$CHARON'" \
    >> "$d/charon.out" 2>&1 < /dev/null &
  echo $! > "$d/charon.pid"
  for _ in $(seq 1 100); do
    [ -S "$d/charon.vici" ] && return 0
    kill -0 "$(cat "$d/charon.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "charon on host $h did not come up; see $d/charon.out and $d/charon.log" >&2
  return 1
}

stop_charon() { # host
  local d="$dir/$1" pid
  [ -f "$d/charon.pid" ] || return 0
  pid=$(cat "$d/charon.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$d/charon.pid" "$d/charon.vici" "$d/charon.enfy"
}

down() {
  stop_charon a
  stop_charon b
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
}

case "$cmd" in
  up)
    trap 'down' ERR
    ip netns add "$NS_A"
    ip netns add "$NS_B"
    ip link add "$IF_A" type veth peer name "$IF_B"
    ip link set "$IF_A" netns "$NS_A"
    ip link set "$IF_B" netns "$NS_B"
    ip -n "$NS_A" addr add "$ADDR_A/24" dev "$IF_A"
    ip -n "$NS_B" addr add "$ADDR_B/24" dev "$IF_B"
    # nodad: usable at once (duplicate address detection would keep them tentative for a second or two).
    ip -n "$NS_A" addr add "$ADDR6_A/64" dev "$IF_A" nodad
    ip -n "$NS_B" addr add "$ADDR6_B/64" dev "$IF_B" nodad
    for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
    ip -n "$NS_A" link set "$IF_A" up
    ip -n "$NS_B" link set "$IF_B" up
    write_conf a
    write_conf b
    start_charon a
    start_charon b
    trap - ERR
    cat "$dir/lab.env"
    ;;
  restart)
    h=${3:?host a or b}
    stop_charon "$h"
    start_charon "$h"
    ;;
  down)
    down
    ;;
  status)
    cat "$dir/lab.env"
    for h in a b; do
      ns=$(ns_of "$h")
      if ip netns list | grep -qw "$ns"; then echo "netns $ns: present"; else echo "netns $ns: absent"; fi
      if [ -f "$dir/$h/charon.pid" ] && kill -0 "$(cat "$dir/$h/charon.pid")" 2>/dev/null; then
        echo "charon $h: running (pid $(cat "$dir/$h/charon.pid"))"
        STRONGSWAN_CONF="$dir/$h/strongswan.conf" swanctl --list-sas --uri "unix://$dir/$h/charon.vici" || true
      else
        echo "charon $h: not running"
      fi
    done
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
