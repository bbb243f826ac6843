#!/bin/sh
# Installs what building and testing erofsfs needs on Debian 12 (bookworm), if missing.
# Usage: scripts/deps.sh [extra packages...]
set -eu
pkgs="cmake make g++ clang-14 libclang-rt-14-dev doctest-dev libbenchmark-dev liblz4-dev \
liblzma-dev zlib1g-dev libzstd-dev erofs-utils pkg-config fuse3 libfuse3-dev \
libcurl4-openssl-dev nginx python3 cryptsetup-bin docker-registry skopeo apache2-utils curl \
python3-jwt python3-cryptography openssl $*"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Without udev (containers), /dev/fuse keeps the kernel's 0600; udev's default rule makes it
# 0666 so normal users can mount through fusermount3 (the FUSE tests run as one).
if [ -c /dev/fuse ] && [ "$(id -u)" -eq 0 ] && [ "$(stat -c %a /dev/fuse)" != 666 ]; then
  chmod 0666 /dev/fuse
fi
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "scripts/deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
