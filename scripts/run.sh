#!/usr/bin/env bash
# One command for a newcomer on a fresh Debian 12 machine (as root): install what oedns needs (and the
# system user it drops to), build it, and run the main job with embedded defaults (listen on
# 127.0.0.1:53, forward to the nameservers of /etc/resolv.conf, validate from the distribution's root
# trust anchor), or with /etc/oedns/oedns.yaml once `oedns install` wrote one.
# Extra arguments are passed to `oedns serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
exec node dist/src/cli/oedns.js serve "$@"
