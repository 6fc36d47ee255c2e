#!/usr/bin/env bash
# Makes oedns this machine's resolver service (as root), or takes it away again:
#   install     the system user `oedns` (and its membership in the group that may use charon's VICI
#               socket), /etc/oedns (root:oedns 0750) with a first oedns.yaml, /var/lib/oedns, the
#               systemd unit, and the strongSwan snippet that gives charon that group
#   uninstall   removes the unit, the snippet, and the user and groups it created (recorded in
#               /etc/oedns/.installed); what stays of /etc/oedns and /var/lib/oedns becomes
#               root:root 0700; --purge deletes them
#   user        only the user and group (scripts/run.sh and scripts/install-deps.sh use this)
# Options:
#   --destdir DIR      install under DIR instead of / (packaging, tests): no systemctl, no user database
#                      but DIR/etc/{passwd,group,shadow,gshadow}
#   --bin PATH         the oedns command for the unit (default: `command -v oedns`, else this checkout's build);
#                      it and its package must be root's and writable by nobody else (the unit runs it)
#   --identity FQDN    our IKE identity for a new oedns.yaml, a host name (default: hostname -f)
#   --vici-group NAME  group that may use charon's VICI socket (default: vici); its members are as
#                      good as root, so it must be a group of its own: refused when anyone but oedns
#                      is in it, or when it is a well-known group (users, sudo, adm...)
#   --no-strongswan    leave strongSwan's configuration alone
#   --enable           also `systemctl enable --now oedns`
#   --purge            with uninstall: also delete /etc/oedns and /var/lib/oedns (keys, state)
# Never overwrites an existing oedns.yaml or a strongSwan file it did not write; refuses symbolic
# links where it would write or chown (host.key.pem, /etc/oedns, /var/lib/oedns), and an existing
# oedns group with other members (they could read the host key).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=install
D=
BIN=
IDENTITY=
VICI_GROUP=vici
STRONGSWAN=yes
ENABLE=no
PURGE=no
MARK='# Written by oedns'

while [ $# -gt 0 ]; do
  case "$1" in
    install|uninstall|user) cmd=$1 ;;
    --destdir) D=${2%/}; shift ;;
    --destdir=*) D=${1#*=}; D=${D%/} ;;
    --bin) BIN=$2; shift ;;
    --bin=*) BIN=${1#*=} ;;
    --identity) IDENTITY=$2; shift ;;
    --identity=*) IDENTITY=${1#*=} ;;
    --vici-group) VICI_GROUP=$2; shift ;;
    --vici-group=*) VICI_GROUP=${1#*=} ;;
    --no-strongswan) STRONGSWAN=no ;;
    --enable) ENABLE=yes ;;
    --purge) PURGE=yes ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
[[ "$VICI_GROUP" =~ ^[a-z_][a-z0-9_-]*$ ]] || { echo "install.sh: bad --vici-group '$VICI_GROUP'" >&2; exit 2; }
if [ -n "$D" ]; then
  mkdir -p "$D"
  D=$(cd "$D" && pwd)
  for f in passwd group shadow gshadow; do
    [ -f "$D/etc/$f" ] || { echo "install.sh: --destdir needs $D/etc/$f (the user database to add oedns to)" >&2; exit 2; }
  done
fi
P=()
[ -n "$D" ] && P=(--prefix "$D")
systemd_running() { [ -z "$D" ] && [ -d /run/systemd/system ]; }
say() { echo "install.sh: $*"; }

in_db() { grep -q "^$2:" "$D/etc/$1"; }            # in_db passwd|group NAME
id_of() { awk -F: -v n="$2" '$1 == n { print $3 }' "$D/etc/$1"; }
# Who is in group NAME: its listed members and the users whose primary group it is, one a line.
group_members() {
  local gid
  gid=$(id_of group "$1")
  { awk -F: -v g="$1" '$1 == g { print $4 }' "$D/etc/group" | tr ',' '\n'
    [ -n "$gid" ] && awk -F: -v g="$gid" '$4 == g { print $1 }' "$D/etc/passwd"; } | sed '/^$/d' | sort -u
}
# Groups that exist for other purposes and have (or get) members of their own.
WELL_KNOWN_GROUPS=' root daemon bin sys adm tty disk lp mail news uucp man proxy kmem dialout fax voice cdrom
  floppy tape sudo wheel admin audio dip www-data backup operator list irc src gnats shadow utmp video sasl
  plugdev staff games users nogroup nobody netdev input render kvm lpadmin sambashare systemd-journal '
manifest="$D/etc/oedns/.installed"
die() { echo "install.sh: $*" >&2; exit 2; }

# A host name (RFC 1123 labels, 253 characters at most): it goes into oedns.yaml through sed.
valid_identity() {
  [ "${#1}" -le 254 ] &&
    [[ "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$ ]]
}

# What install writes or chowns must be what it seems: no symbolic link anywhere we touch.
check_no_links() {
  local p
  for p in "$D/etc/oedns" "$D/var/lib/oedns" "$D/etc/oedns/host.key.pem" "$D/etc/oedns/oedns.yaml" "$D/etc/oedns/upstream.conf" "$manifest"; do
    [ -L "$p" ] && die "$p is a symbolic link; oedns install changes owners and modes there and will not follow it (remove it, put the real file in place)"
  done
  return 0
}

# The unit runs --bin as the service with CAP_NET_BIND_SERVICE at every start: whoever can change it,
# or anything of its package, runs code as that service. Root's, and writable by nobody else.
check_bin() {
  local real d pkg bad
  real=$(readlink -f -- "$1") || die "--bin $1 does not exist"
  d=$real
  while :; do
    local owner mode
    owner=$(stat -c %u -- "$d"); mode=$(stat -c %a -- "$d")
    [ "$owner" = 0 ] || die "--bin $1: $d belongs to uid $owner, who could change what the service runs; install the package as root (npm install -g)"
    if [ "$d" = "$real" ] || [ "$d" = "$(dirname -- "$real")" ]; then
      (( 8#$mode & 8#022 )) && die "--bin $1: $d is writable by group or others (mode $mode)"
    elif (( 8#$mode & 8#022 )) && ! (( 8#$mode & 8#1000 )); then
      die "--bin $1: $d is writable by group or others and not sticky (mode $mode)"
    fi
    [ "$d" = / ] && break
    d=$(dirname -- "$d")
  done
  # The package the command belongs to: the nearest directory above it with a package.json.
  pkg=$(dirname -- "$real")
  while [ "$pkg" != / ] && [ ! -f "$pkg/package.json" ]; do pkg=$(dirname -- "$pkg"); done
  if [ -f "$pkg/package.json" ]; then
    bad=$(find "$pkg" ! -type l \( ! -user 0 -o -perm /022 \) -print -quit 2>/dev/null || true)
    [ -z "$bad" ] || die "--bin $1: $bad in its package $pkg is not root's or is writable by group or others (chown -R root: $pkg; chmod -R go-w $pkg)"
  fi
}

# What this script created, so that uninstall removes only that.
write_manifest() {
  local tmp
  tmp=$(mktemp "$D/etc/oedns/.installed.XXXXXX")
  { echo "vici_group=$VICI_GROUP"; echo "created_vici_group=$created_vici"
    echo "created_user=$created_user"; echo "created_group=$created_group"; } > "$tmp"
  chmod 0600 "$tmp"
  mv -f -T "$tmp" "$manifest"
}
manifest_says() { [ -f "$manifest" ] && grep -qx "$1=yes" "$manifest"; }

# charon runs updown scripts, loads plugins' settings and installs kernel policies for whoever may use
# its VICI socket: a member of that group is as good as root. Only oedns may be in it.
check_vici_group() {
  case "$WELL_KNOWN_GROUPS" in *" $VICI_GROUP "*)
    echo "install.sh: --vici-group $VICI_GROUP is a well-known group; its members would be as good as root (charon's VICI socket). Use a group of its own (default vici)" >&2
    exit 2 ;;
  esac
  in_db group "$VICI_GROUP" || return 0
  if [ "$(id_of group "$VICI_GROUP")" = 0 ]; then
    echo "install.sh: group $VICI_GROUP has gid 0; use a group of its own (default vici)" >&2; exit 2
  fi
  local others
  others=$(group_members "$VICI_GROUP" | grep -vx oedns | paste -sd, - || true)
  if [ -n "$others" ]; then
    echo "install.sh: group $VICI_GROUP already has members other than oedns ($others). Membership gives root through charon's VICI socket (docs/laptop.md), so oedns will not hand it that socket. Remove them (gpasswd -d USER $VICI_GROUP) or give --vici-group a new group" >&2
    exit 2
  fi
}

ensure_user() {
  check_vici_group
  if in_db group oedns; then
    # Its members read the host key (root:oedns 0640) and the config.
    local others
    others=$(group_members oedns | grep -vx oedns | paste -sd, - || true)
    [ -z "$others" ] || die "group oedns already exists with members other than oedns ($others); they could read the host key. Remove them (gpasswd -d USER oedns) or the group, then run this again"
  else
    groupadd "${P[@]}" --system oedns
    created_group=yes
  fi
  if ! in_db passwd oedns; then
    useradd "${P[@]}" --system --gid oedns --home-dir /var/lib/oedns --no-create-home \
      --shell /usr/sbin/nologin --comment 'oedns resolver' oedns
    created_user=yes
    say "created system user oedns"
  fi
  if ! in_db group "$VICI_GROUP"; then
    groupadd "${P[@]}" --system "$VICI_GROUP"
    created_vici=yes
    say "created group $VICI_GROUP (may use charon's VICI socket)"
  fi
  awk -F: -v g="$VICI_GROUP" '$1 == g { print $4 }' "$D/etc/group" | tr ',' '\n' | grep -qx oedns ||
    usermod "${P[@]}" -a -G "$VICI_GROUP" oedns
}

default_upstream_file() {
  if [ -d /run/NetworkManager ] || [ -x /usr/sbin/NetworkManager ]; then echo /run/NetworkManager/no-stub-resolv.conf
  elif [ -d /run/systemd/resolve ]; then echo /run/systemd/resolve/resolv.conf
  else echo /etc/oedns/upstream.conf
  fi
}

install_all() {
  created_vici=no created_user=no created_group=no
  # What an earlier run made stays ours to remove.
  manifest_says created_vici_group && created_vici=yes
  manifest_says created_user && created_user=yes
  manifest_says created_group && created_group=yes
  # Everything that can refuse is checked before anything is changed.
  check_no_links
  [ -z "$IDENTITY" ] || valid_identity "$IDENTITY" || die "--identity '$IDENTITY' is not a host name (letters, digits, hyphens, dots)"
  local cfg="$D/etc/oedns/oedns.yaml" ident=
  if [ ! -f "$cfg" ]; then
    ident=${IDENTITY:-$(hostname -f 2>/dev/null || hostname)}
    valid_identity "$ident" || die "identity '$ident' is not a host name (letters, digits, hyphens, dots); give --identity FQDN"
  fi
  if [ -z "$BIN" ]; then
    BIN=$(command -v oedns || true)
    [ -n "$BIN" ] || BIN="$here/dist/src/cli/oedns.js"
  fi
  [ -x "$BIN" ] || { echo "install.sh: $BIN is not executable (npm run build, or give --bin)" >&2; exit 1; }
  check_bin "$BIN"
  case "$BIN" in /root/*|/home/*) say "warning: $BIN is under a home directory, which the unit hides (ProtectHome=yes); install the package globally (docs/laptop.md)";; esac

  ensure_user
  local uid gid
  uid=$(id_of passwd oedns)
  gid=$(id_of group oedns)
  # /etc/oedns: root's, readable by the service (group oedns), writable by nobody else.
  install -d -m 0755 "$D/etc"
  install -d -m 0750 -o 0 -g "$gid" "$D/etc/oedns"
  # Recorded at once: a run that fails later still leaves uninstall knowing what is ours.
  write_manifest
  install -d -m 0755 "$D/var/lib"
  local state="$D/var/lib/oedns"
  if [ -d "$state" ]; then
    # Ours by name; an uninstall left it root's: the service writes its state there again.
    local owner
    owner=$(stat -c %u -- "$state")
    [ "$owner" = 0 ] || [ "$owner" = "$uid" ] || die "$state belongs to uid $owner, neither root nor oedns; move it away first"
    chown -R -h "$uid:$gid" "$state"
    chmod 0750 "$state"
  else
    install -d -m 0750 -o "$uid" -g "$gid" "$state"
  fi
  if [ -f "$cfg" ]; then
    # Kept as it is, readable by the service again (an uninstall left it root's).
    chown -h 0:"$gid" "$cfg"
    chmod 0640 "$cfg"
    say "keeping the existing $cfg"
  else
    local upf tmp
    upf=$(default_upstream_file)
    # Written whole under another name, then moved: a failure leaves no half-written config behind.
    tmp=$(mktemp "$D/etc/oedns/.oedns.yaml.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    sed -e "s#@IDENTITY@#$ident#" -e "s#@UPSTREAM_FILE@#$upf#" "$here/packaging/oedns.yaml" > "$tmp"
    chmod 0640 "$tmp"
    chown 0:"$gid" "$tmp"
    mv -f -T "$tmp" "$cfg"
    if [ "$upf" = /etc/oedns/upstream.conf ] && [ ! -e "$D$upf" ]; then
      # No network manager: the nameservers resolv.conf names now, before it points at oedns.
      tmp=$(mktemp "$D/etc/oedns/.upstream.conf.XXXXXX")
      { echo "# upstreams for oedns (resolv.conf syntax); edit when your network changes"
        grep -E '^\s*nameserver\s' /etc/resolv.conf 2>/dev/null | grep -vE '\s(127\.0\.0\.1|::1)\s*$' || true; } > "$tmp"
      chmod 0644 "$tmp"
      mv -f -T "$tmp" "$D$upf"
    fi
    trap - EXIT
    say "wrote $cfg (identity $ident, upstreams from $upf)"
  fi
  # The host key, if already made by `oedns keygen`: readable by the service, still root's.
  local key="$D/etc/oedns/host.key.pem"
  if [ -f "$key" ]; then chown -h 0:"$gid" "$key"; chmod 0640 "$key"; fi

  install -d -m 0755 "$D/etc/systemd/system"
  sed "s#/usr/local/bin/oedns#$BIN#g" "$here/packaging/oedns.service" > "$D/etc/systemd/system/oedns.service"
  chmod 0644 "$D/etc/systemd/system/oedns.service"
  say "wrote $D/etc/systemd/system/oedns.service (ExecStart $BIN)"

  local snippet="$D/etc/strongswan.d/oedns-vici.conf"
  if [ "$STRONGSWAN" = yes ]; then
    if [ -f "$snippet" ] && ! grep -q "^$MARK" "$snippet"; then
      say "warning: $snippet exists and is not ours; left alone"
    else
      install -d -m 0755 "$D/etc/strongswan.d"
      sed "s#@VICI_GROUP@#$VICI_GROUP#" "$here/packaging/strongswan-vici.conf" > "$snippet"
      chmod 0644 "$snippet"
      say "wrote $snippet (charon group $VICI_GROUP; restart charon to apply: systemctl restart strongswan)"
    fi
  fi
  write_manifest

  if systemd_running; then
    systemctl daemon-reload
    if [ "$ENABLE" = yes ]; then systemctl enable --now oedns; else say "start it with: systemctl enable --now oedns"; fi
  fi
  say "next: oedns keygen (if not done), publish the record, point the system at 127.0.0.1, oedns doctor (docs/laptop.md)"
}

uninstall_all() {
  local vg=$VICI_GROUP created_vici=no created_user=no created_group=no
  if [ -L "$manifest" ]; then die "$manifest is a symbolic link"; fi
  if [ -f "$manifest" ]; then
    vg=$(sed -n 's/^vici_group=//p' "$manifest")
    manifest_says created_vici_group && created_vici=yes
    manifest_says created_user && created_user=yes
    manifest_says created_group && created_group=yes
  else
    say "no $manifest: the user and groups oedns uses are left alone (this script cannot tell whether it made them)"
  fi
  if systemd_running; then systemctl disable --now oedns 2>/dev/null || true; fi
  rm -f "$D/etc/systemd/system/oedns.service"
  local snippet="$D/etc/strongswan.d/oedns-vici.conf"
  if [ -f "$snippet" ] && grep -q "^$MARK" "$snippet"; then rm -f "$snippet"; say "removed $snippet (restart charon)"; fi
  local ogid
  ogid=$(id_of group oedns)
  if [ "$created_user" = yes ] && in_db passwd oedns; then
    userdel "${P[@]}" oedns
    # userdel also removes a group named like the user (USERGROUPS_ENAB): one we did not make comes back.
    if [ "$created_group" != yes ] && [ -n "$ogid" ] && ! in_db group oedns; then groupadd "${P[@]}" --gid "$ogid" oedns; fi
    say "removed user oedns"
  elif in_db passwd oedns; then
    say "user oedns was not created by oedns install: kept"
  fi
  if [ "$created_group" = yes ] && in_db group oedns; then
    groupdel "${P[@]}" oedns
  elif in_db group oedns; then
    say "group oedns was not created by oedns install: kept"
  fi
  if [ "$created_vici" = yes ] && in_db group "$vg"; then
    local members
    # oedns (a user we did not make stays) was put in it by us; anyone else keeps it.
    members=$(group_members "$vg" | grep -vx oedns | paste -sd, - || true)
    if [ -z "$members" ]; then groupdel "${P[@]}" "$vg"; else say "group $vg has other members ($members): kept"; fi
  fi
  rm -f "$manifest"
  if [ "$PURGE" = yes ]; then
    rm -rf "$D/etc/oedns" "$D/var/lib/oedns"
    say "purged /etc/oedns and /var/lib/oedns"
  else
    # Whatever uid and gid they had may be given to someone else next: root's alone from now on.
    local d
    for d in "$D/etc/oedns" "$D/var/lib/oedns"; do
      [ -d "$d" ] && [ ! -L "$d" ] || continue
      chown -R -h 0:0 "$d"
      chmod 0700 "$d"
    done
    say "kept /etc/oedns and /var/lib/oedns (keys, config, state) as root:root 0700; --purge deletes them"
  fi
  if systemd_running; then systemctl daemon-reload; fi
  say "oedns removed; point /etc/resolv.conf at another resolver if it still names 127.0.0.1"
}

case "$cmd" in
  install) install_all ;;
  uninstall) uninstall_all ;;
  user) created_vici=no created_user=no created_group=no; ensure_user ;;
esac
