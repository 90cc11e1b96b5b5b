#!/usr/bin/env bash
# Install the Debian packages jipan needs to build, test and run.
# Idempotent: when everything is there it touches neither apt nor the network.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libzmq3-dev liblmdb-dev lmdb-utils libmsgpack-dev libssl-dev
    libcsv-dev libjansson-dev libinih-dev libsystemd-dev
    libcmocka-dev
    libmicrohttpd-dev libsodium-dev
    chromium chromium-driver python3-selenium fonts-wqy-microhei curl
    clang libclang-rt-14-dev
    bc python3 procps systemd openssl
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null; then
        sudo=(sudo)
    else
        echo "install-deps: need root to install: ${missing[*]}" >&2
        echo "install-deps: run as root, or: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
