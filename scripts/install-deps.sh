#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages ropescale's build, tests, benchmark and tools need, plus any
# extra package names given as arguments (.ci/run adds the clang toolchain). Only packages that
# are not installed yet are installed; when nothing is missing it does nothing (no apt-get, no
# sudo). Works as root (no sudo needed) and as a user with sudo. Non-interactive.
set -euo pipefail

packages=(cmake make g++ libeigen3-dev nlohmann-json3-dev libgtest-dev libbenchmark-dev
          libxml2-utils pkgconf python3 "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  }
  as_root=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
# env inside sudo: sudo drops the caller's environment, and apt must not ask questions.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
