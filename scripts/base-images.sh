#!/usr/bin/env bash
# Makes, from Debian's packages, the images that Dockerfile and docker-compose.yaml
# start FROM or run, under the names a machine with a registry would pull:
#
#   debian:bookworm-slim      debootstrap --variant=minbase bookworm, then `docker import`
#   lookout/alertmanager:0.25 deploy/compose/alertmanager.Dockerfile (Debian's
#                             prometheus-alertmanager package on the image above)
#
# For engines that reach no registry (CI, this project's machines). Where a registry
# is reachable nothing here is needed: `docker build` pulls debian:bookworm-slim and
# compose builds the Alertmanager image itself.
#
# Idempotent and cached: an image that exists is left alone (the Alertmanager one is
# rebuilt only when its Dockerfile changes, by a label holding the file's hash), and
# the debootstrap root filesystem is kept as a tarball under $LOOKOUT_CACHE_DIR
# (default ~/.cache/lookout), so a machine that lost its images re-imports in seconds
# instead of re-running debootstrap (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_IMAGE=debian:bookworm-slim
ALERTMANAGER_IMAGE=lookout/alertmanager:0.25
ALERTMANAGER_DOCKERFILE=deploy/compose/alertmanager.Dockerfile
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE="${LOOKOUT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout}"
TARBALL="$CACHE/debian-$SUITE-minbase.tar"

say() { echo "base-images: $*"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers; nothing to do" >&2
  exit 2
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The root filesystem, made once per cache. debootstrap needs root (it chroots to run
# the packages' maintainer scripts).
make_rootfs_tarball() {
  if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 || {
      as_root apt-get update -qq
      as_root apt-get install -y -qq --no-install-recommends debootstrap
    }
  fi
  local root
  root="$(mktemp -d "${TMPDIR:-/tmp}/lookout-rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $root is local
  trap "as_root rm -rf '$root'" EXIT
  say "debootstrap --variant=minbase $SUITE from $MIRROR"
  as_root env PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" \
    >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
  rm -f "$root.log"

  # What the registry's slim image does: no documentation, man pages or locales, now
  # or from packages installed later; no package lists or caches left in layers.
  as_root tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  as_root tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  as_root tee "$root/etc/apt/sources.list" >/dev/null <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  as_root find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  as_root rm -rf "$root"/usr/share/{man,info,groff,lintian,linda,locale}/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  # The container's hostname and resolver come from the engine.
  as_root rm -f "$root/etc/hostname" "$root/etc/resolv.conf"

  mkdir -p "$CACHE"
  as_root tar --numeric-owner --xattrs -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  as_root rm -rf "$root"
  trap - EXIT
}

if have_image "$DEBIAN_IMAGE"; then
  say "$DEBIAN_IMAGE exists"
else
  [ -s "$TARBALL" ] || make_rootfs_tarball
  say "docker import $TARBALL as $DEBIAN_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE" \
    "$TARBALL" "$DEBIAN_IMAGE" >/dev/null
fi

hash="$(sha256sum "$ALERTMANAGER_DOCKERFILE" | cut -c1-16)"
built="$(docker image inspect -f '{{ index .Config.Labels "lookout.dockerfile-hash" }}' \
  "$ALERTMANAGER_IMAGE" 2>/dev/null || true)"
if [ "$built" = "$hash" ]; then
  say "$ALERTMANAGER_IMAGE exists"
else
  say "building $ALERTMANAGER_IMAGE from $ALERTMANAGER_DOCKERFILE"
  docker build -q --label "lookout.dockerfile-hash=$hash" -t "$ALERTMANAGER_IMAGE" \
    -f "$ALERTMANAGER_DOCKERFILE" deploy/compose >/dev/null
fi
