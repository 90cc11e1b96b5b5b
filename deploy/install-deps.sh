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
    gettext locales
    libjs-chart.js libxlsxwriter-dev
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# The Chinese locale, for the programs' messages in 简体中文 (gettext needs
# the locale itself, not only the catalog).
have_zh_locale() { locale -a 2>/dev/null | grep -qix 'zh_CN.utf8'; }

if ((${#missing[@]} == 0)) && have_zh_locale; then
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

export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]})); then
    echo "install-deps: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! have_zh_locale; then
    echo "install-deps: generating the zh_CN.UTF-8 locale"
    "${sudo[@]}" localedef -i zh_CN -f UTF-8 zh_CN.UTF-8
fi
