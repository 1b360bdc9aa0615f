#!/usr/bin/env bash
# Installs the Kibanda edge node on a Debian/Ubuntu box as a systemd service.
#
#   sudo installers/edge/install.sh --binary target/release/edge-node
#
# then enroll it with the one-time code from the hub:
#
#   sudo -u kibanda edge-node enroll --hub HUB_HOST:4101 --code CODE --data-dir /var/lib/kibanda-edge
#   sudo systemctl restart kibanda-edge
#
# Re-running upgrades the binary and the unit and keeps /etc/kibanda/edge.env and the data.
# --root DIR installs under DIR instead of / and --no-systemd skips user creation and systemctl
# (for staging an image, and for the installer's own test).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root=""
binary=""
systemd=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --no-systemd) systemd=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ] || [ ! -x "$binary" ]; then
  echo "give the built edge-node binary: --binary target/release/edge-node" >&2
  exit 2
fi
if [ "$systemd" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "run as root (sudo), or stage with --root DIR --no-systemd" >&2
  exit 1
fi

if [ "$systemd" = 1 ] && ! id kibanda >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/kibanda-edge --shell /usr/sbin/nologin kibanda
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system" "$root/etc/kibanda"
install -d -m 0750 "$root/var/lib/kibanda-edge"
install -m 0755 "$binary" "$root/usr/local/bin/edge-node"
install -m 0644 "$here/kibanda-edge.service" "$root/etc/systemd/system/kibanda-edge.service"
# The settings are the operator's: written once, never overwritten by an upgrade.
if [ ! -e "$root/etc/kibanda/edge.env" ]; then
  install -m 0640 "$here/edge.env" "$root/etc/kibanda/edge.env"
fi

if [ "$systemd" = 1 ]; then
  chown kibanda:kibanda "$root/var/lib/kibanda-edge"
  chgrp kibanda "$root/etc/kibanda/edge.env"
  systemctl daemon-reload
  systemctl enable --now kibanda-edge
  echo "kibanda-edge is running; enroll it with: sudo -u kibanda edge-node enroll --hub HOST:4101 --code CODE --data-dir /var/lib/kibanda-edge"
else
  echo "staged under ${root:-/}"
fi
