# shellcheck shell=bash disable=SC2034  # (variables are used by the scripts that source this)
# Settings and helpers shared by the asterisk/ scripts; sourced, not run.
# Environment (defaults in brackets):
#   LINGUA_STATE_DIR          state folder [<repo>/.state]; Asterisk lives in its asterisk/
#   LINGUA_ASTERISK_SIP_BIND  SIP/RTP address [127.0.0.1]; 0.0.0.0 opens SIP to the LAN
#   LINGUA_ASTERISK_SIP_PORT  SIP UDP port [5060]
#   LINGUA_ASTERISK_HTTP_BIND HTTP (ARI, media websockets) address [127.0.0.1]
#   LINGUA_ASTERISK_HTTP_PORT HTTP port [8088]
#   LINGUA_ASTERISK_RTP_START, LINGUA_ASTERISK_RTP_END  RTP port range [10000-10999]

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${LINGUA_STATE_DIR:-$REPO/.state}/asterisk
TREE=$STATE/tree
ETC=$STATE/etc
LOG=$STATE/log
PIDFILE=$STATE/asterisk.pid
SECRETS=$STATE/secrets.env
TEMPLATES=$REPO/asterisk/conf

SIP_BIND=${LINGUA_ASTERISK_SIP_BIND:-127.0.0.1}
SIP_PORT=${LINGUA_ASTERISK_SIP_PORT:-5060}
HTTP_BIND=${LINGUA_ASTERISK_HTTP_BIND:-127.0.0.1}
HTTP_PORT=${LINGUA_ASTERISK_HTTP_PORT:-8088}
RTP_START=${LINGUA_ASTERISK_RTP_START:-10000}
RTP_END=${LINGUA_ASTERISK_RTP_END:-10999}
ARI_USER=lingua
ARI_APP=lingua
SIP_ACCOUNTS=(phone1 phone2 phone3)
# Configs whose defaults are right; empty files keep modules from logging errors.
DEFAULT_CONFIGS=(acl aeap ccss cdr cel features pjproject res_http_media_cache udptl websocket_client)

die() {
  echo "asterisk: $*" >&2
  exit 1
}

# The Asterisk binary from the tree, run by the tree's own loader and libraries.
asterisk_bin() {
  "$TREE/usr/lib64/ld-linux-x86-64.so.2" --library-path "$TREE/usr/lib/x86_64-linux-gnu" \
    "$TREE/usr/sbin/asterisk" -C "$ETC/asterisk.conf" "$@"
}

installed() {
  [ -f "$TREE/.installed" ]
}

# The pid of our running Asterisk, or nothing (status 1).
running_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$ETC/asterisk.conf" || return 1
  echo "$pid"
}

# Loopback address for a bind address (a wildcard bind is reached on 127.0.0.1).
local_host() {
  case $1 in 0.0.0.0 | "") echo 127.0.0.1 ;; *) echo "$1" ;; esac
}

# Random 32-hex-digit secrets, made once and kept in secrets.env.
ensure_secrets() {
  local name
  touch "$SECRETS"
  chmod 600 "$SECRETS"
  for name in ARI_PASSWORD "${SIP_ACCOUNTS[@]/#/SIP_PASSWORD_}"; do
    name=${name^^}
    grep -q "^$name=" "$SECRETS" || echo "$name=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >>"$SECRETS"
  done
}

# Render conf/*.conf into $ETC, and write ari.env and sip.env for clients.
render_configs() {
  local -A vars
  local line template text key
  while IFS= read -r line; do
    vars[${line%%=*}]=${line#*=}
  done <"$SECRETS"
  vars[ETC]=$ETC vars[TREE]=$TREE vars[STATE]=$STATE
  vars[SIP_BIND]=$SIP_BIND vars[SIP_PORT]=$SIP_PORT vars[HTTP_BIND]=$HTTP_BIND vars[HTTP_PORT]=$HTTP_PORT
  vars[RTP_START]=$RTP_START vars[RTP_END]=$RTP_END vars[ARI_USER]=$ARI_USER vars[ARI_APP]=$ARI_APP
  mkdir -p "$ETC"
  for template in "$TEMPLATES"/*.conf; do
    text=$(<"$template")
    for key in "${!vars[@]}"; do
      text=${text//@"$key"@/${vars[$key]}}
    done
    [[ $text != *@[A-Z_]*@* ]] || die "unrendered placeholder in $template"
    printf '%s\n' "$text" >"$ETC/$(basename "$template")"
  done
  for key in "${DEFAULT_CONFIGS[@]}"; do
    echo "; defaults" >"$ETC/$key.conf"
  done
  chmod 600 "$ETC/ari.conf" "$ETC/pjsip.conf"
  (
    umask 077
    cat >"$STATE/ari.env" <<ENV
ARI_URL=http://$(local_host "$HTTP_BIND"):$HTTP_PORT/ari
ARI_USER=$ARI_USER
ARI_PASSWORD=${vars[ARI_PASSWORD]}
ARI_APP=$ARI_APP
ENV
    {
      echo "SIP_HOST=$(local_host "$SIP_BIND")"
      echo "SIP_PORT=$SIP_PORT"
      echo "SIP_ACCOUNTS=\"${SIP_ACCOUNTS[*]}\""
      grep '^SIP_PASSWORD_' "$SECRETS"
    } >"$STATE/sip.env"
  )
}
