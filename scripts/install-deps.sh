#!/usr/bin/env bash
# Installs the real parts oedns is built and tested against (Debian 12, as root), and the `oedns`
# system user the daemon drops to (scripts/install.sh user). Idempotent: skips apt when everything is
# already present. Run by scripts/run.sh and .ci/run; `npm test` does not run it (no apt in tests).
set -euo pipefail
PKGS=(
  bind9 bind9-utils bind9-dnsutils knot-dnsutils ldnsutils dnsperf
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins
  iproute2 iputils-ping tcpdump openssl
  dns-root-data systemd python3-minimal passwd
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
  # Debian starts named where it can, on port 53, which `oedns serve` wants; oedns and its tests start
  # their own instances. Only a named installed just now is stopped, and never a host's strongSwan.
  for p in "${missing[@]}"; do
    if [ "$p" = bind9 ]; then for svc in named bind9; do service "$svc" stop >/dev/null 2>&1 || true; done; fi
  done
fi
# Libreswan conflicts with the strongSwan packages: it is unpacked into a cache, never installed
# (scripts/libreswan-fetch.sh; instant once fetched). Without it the pluto tests skip, saying why.
bash "$(dirname "$0")/libreswan-fetch.sh" >/dev/null || echo "warning: Libreswan could not be fetched; the pluto tests will skip" >&2
# The dedicated user the daemon runs as (and its membership in the VICI group); no other change.
bash "$(dirname "$0")/install.sh" user >/dev/null
exit 0
