#!/bin/sh
# Build a minimal Debian root filesystem that carries one Python version, as a tar stream on stdout.
# Run on the host as root; swegen pipes the stream into `docker import`.
# Usage: build-rootfs.sh SUITE MIRROR CA_BUNDLE_OR_EMPTY WORKDIR PACKAGES...
set -eu
suite=$1 mirror=$2 ca=$3 work=$4
shift 4
packages=$(echo "$*" | tr ' ' ',')
root="$work/rootfs"
rm -rf "$root"
mkdir -p "$root"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
if [ -n "$ca" ]; then
    # Companies that intercept TLS need their CA inside every container that installs packages.
    cp "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
fi
# Keep the image small: package caches and docs are not needed to run tests.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar --numeric-owner -C "$root" -c .
