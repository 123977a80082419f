#!/usr/bin/env bash
# Makes a minimal runtime base image from this host, for when no base image can be pulled:
# what the given binaries load (ldd: glibc, libgcc_s, the dynamic loader, ...), the CA
# certificates, a passwd with root and nonroot (65532, as distroless), /tmp, /data. Imported
# with `docker import` and tagged TAG; rebuilt only when its inputs (the libraries, the
# certificates, this script) changed, since the tag carries their hash as a label.
#
#   scripts/container-base.sh TAG BINARY...
#
# Stands in for gcr.io/distroless/cc-debian12:nonroot: the same glibc family (Debian 12), no
# shell, no package manager. It is not the Lambda base image, which it can only stand in for
# in a layout check (scripts/container-test.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

docker="${DOCKER:-docker}"
tag="${1:?usage: $0 TAG BINARY...}"
shift
(($#)) || { echo "usage: $0 TAG BINARY..." >&2; exit 2; }

# Every file the binaries load, as ldd names them (absolute paths only).
libs="$(for bin in "$@"; do ldd "$bin"; done | grep -oE '/[^ ]+' | sort -u)"
certs=/etc/ssl/certs/ca-certificates.crt
inputs="$({
  for f in $libs $certs; do sha256sum "$(readlink -f "$f")"; done
  sha256sum "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)"

have="$("$docker" image inspect -f '{{index .Config.Labels "inputs"}}' "$tag" 2>/dev/null || true)"
if [[ "$have" == "$inputs" ]]; then
  log "reusing $tag (inputs $inputs)"
  exit 0
fi

root="$(mktemp -d)"
on_exit rm -rf "$root"
for f in $libs; do
  mkdir -p "$root$(dirname "$f")"
  cp -L "$f" "$root$f"
done
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot" "$root/data"
[[ -f "$certs" ]] && cp -L "$certs" "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chown 65532:65532 "$root/home/nonroot" "$root/data"
log "importing $tag ($(du -sh "$root" | cut -f1), inputs $inputs)"
old="$("$docker" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
tar -C "$root" --numeric-owner -cf - . \
  | "$docker" import --change "LABEL inputs=$inputs" --change 'USER 65532:65532' - "$tag" >/dev/null
# The image the tag left behind is of no use any more.
[[ -n "$old" ]] && "$docker" image rm "$old" >/dev/null 2>&1 || true
