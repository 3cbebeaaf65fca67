#!/usr/bin/env bash
# Installs a Vulkan driver that Dawn (the `webgpu` npm package) accepts, so the webgpu backend
# and its tests (test/gpu/) run on a machine without a GPU: Mesa >= 24 lavapipe (software
# Vulkan) plus the Vulkan loader. Debian bookworm ships Mesa 22, which Dawn rejects, so on
# bookworm the two packages come from bookworm-backports (added as an apt source for this;
# backports are opt-in, so nothing else is upgraded from there). Newer Debian/Ubuntu releases
# install them from their own archive.
#
# Never fails the caller: when the driver cannot be installed it says why and exits 0; the
# webgpu tests then skip with that reason. Usage: scripts/install-vulkan.sh [--check]
#   --check  only report whether a usable driver is installed (exit 0 yes, 1 no).
set -uo pipefail

MIN_MESA=24
BACKPORTS_SOURCE=/etc/apt/sources.list.d/eecot-bookworm-backports.sources

say() { echo "install-vulkan: $*"; }

# Major version of an installed package, or empty.
installed_major() {
  dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" { split($4, v, /[.:~+-]/); print v[1] }'
}

has_usable_driver() {
  local major
  major=$(installed_major mesa-vulkan-drivers)
  [[ -n "$major" && "$major" -ge "$MIN_MESA" && -n "$(installed_major libvulkan1)" ]]
}

if [[ "${1:-}" == "--check" ]]; then
  if has_usable_driver; then say "Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) lavapipe is installed"; exit 0; fi
  say "no Mesa >= $MIN_MESA lavapipe installed"; exit 1
fi

if has_usable_driver; then
  say "Mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) lavapipe and libvulkan1 already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get here: install Mesa >= $MIN_MESA Vulkan drivers (lavapipe) and the Vulkan loader with your package manager; the webgpu tests will skip"
  exit 0
fi
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    say "not root and no passwordless sudo: cannot install mesa-vulkan-drivers; the webgpu tests will skip"
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive

# Package lists may be missing in a fresh container.
if ! apt-cache policy mesa-vulkan-drivers 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update -qq || { say "apt-get update failed (no network?); the webgpu tests will skip"; exit 0; }
fi
candidate=$(apt-cache policy mesa-vulkan-drivers 2>/dev/null | awk '/Candidate:/ { print $2 }')
candidate_major=${candidate%%.*}
candidate_major=${candidate_major#*:}

target="mesa-vulkan-drivers"
if [[ -z "$candidate" || "$candidate" == "(none)" || "$candidate_major" -lt "$MIN_MESA" ]]; then
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  if [[ "$codename" != "bookworm" ]]; then
    say "this release ($codename) offers mesa-vulkan-drivers ${candidate:-none}, older than $MIN_MESA, and no known backport; the webgpu tests will skip"
    exit 0
  fi
  # The Debian mirror this machine already uses (a snapshot or proxy in CI), else deb.debian.org.
  mirror=$(grep -hsE '^(URIs:|deb) ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')
  mirror=${mirror:-http://deb.debian.org/debian}
  say "bookworm has mesa-vulkan-drivers $candidate (< $MIN_MESA): adding bookworm-backports from $mirror"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
    | $SUDO tee "$BACKPORTS_SOURCE" >/dev/null
  # Refresh only the backports list; the others are already current.
  $SUDO apt-get update -qq -o Dir::Etc::sourcelist="$BACKPORTS_SOURCE" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 \
    || { say "could not read bookworm-backports (no network?); the webgpu tests will skip"; exit 0; }
  target="mesa-vulkan-drivers/bookworm-backports"
fi

if $SUDO apt-get install -y -qq --no-install-recommends "$target" libvulkan1 >/dev/null; then
  say "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) (lavapipe) and libvulkan1"
else
  say "apt-get install $target libvulkan1 failed; the webgpu tests will skip"
fi
exit 0
