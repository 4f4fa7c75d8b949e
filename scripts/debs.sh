# shellcheck shell=bash
# Fetch Debian packages without root or system changes: a private apt set-up per
# (suite, components) that downloads .debs, which are then unpacked into a tree.
# Sourced by asterisk/install (sid) and tts_server/install (bookworm contrib/non-free).

# The Debian mirror the system's apt uses (deb822 .sources or one-line sources.list).
debs_mirror() {
  local url
  url=$(
    {
      grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{for (i = 2; i <= NF; i++) print $i}'
      grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -E 's/\[[^]]*\]//' | awk '{print $2}'
    } | grep -E '^https?://[^ ]+/debian/?$' | head -n1
  ) || true
  [ -n "$url" ] || {
    echo "no Debian mirror found in /etc/apt sources" >&2
    return 1
  }
  echo "${url%/}"
}

# debs_fetch WORKDIR SUITE COMPONENTS MODE PACKAGE...
#   Downloads into WORKDIR/cache/archives. MODE "closure" resolves every dependency
#   against an empty system (a self-contained tree); "exact" takes the named packages only.
debs_fetch() {
  local apt=$1 suite=$2 components=$3 mode=$4 mirror
  shift 4
  mirror=$(debs_mirror)
  rm -rf "$apt"
  mkdir -p "$apt"/{etc/apt.conf.d,etc/preferences.d,lists/partial,cache/archives/partial}
  touch "$apt/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite $components" >"$apt/etc/sources.list"
  local opts=(
    -o "Dir::Etc=$apt/etc" -o "Dir::Etc::SourceList=$apt/etc/sources.list" -o Dir::Etc::SourceParts=-
    -o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
    -o "Dir::Cache=$apt/cache" -o Acquire::Check-Valid-Until=false -o Acquire::Languages=none
    -o APT::Architecture=amd64 -o APT::Install-Recommends=false -o Debug::NoLocking=1
  )
  [ "$(id -u)" != 0 ] || opts+=(-o APT::Sandbox::User=root)
  apt-get "${opts[@]}" -qq update
  if [ "$mode" = closure ]; then
    apt-get "${opts[@]}" -qq -y --download-only install "$@" >/dev/null
  else
    (cd "$apt/cache/archives" && apt-get "${opts[@]}" -qq download "$@")
  fi
}

# debs_unpack WORKDIR TREE: unpack every downloaded .deb into TREE.
debs_unpack() {
  local deb
  mkdir -p "$2"
  for deb in "$1"/cache/archives/*.deb; do
    dpkg-deb -x "$deb" "$2"
  done
}
