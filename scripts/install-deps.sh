#!/usr/bin/env bash
# Installs the real parts oedns is built and tested against (Debian 12, as root).
# Idempotent: skips apt when everything is already present.
set -euo pipefail
PKGS=(
  bind9 bind9-utils bind9-dnsutils knot-dnsutils ldnsutils dnsperf
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins
  iproute2 iputils-ping tcpdump openssl
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged daemons where it can; oedns and its tests start their own instances.
  for svc in named bind9 strongswan-starter; do service "$svc" stop >/dev/null 2>&1 || true; done
fi
# Libreswan conflicts with the strongSwan packages: it is unpacked into a cache, never installed
# (scripts/libreswan-fetch.sh; instant once fetched). Without it the pluto tests skip, saying why.
bash "$(dirname "$0")/libreswan-fetch.sh" >/dev/null || echo "warning: Libreswan could not be fetched; the pluto tests will skip" >&2
exit 0
