#!/bin/sh
# Installs wsfleet as a systemd service that runs as its own user:
#   make build && sudo scripts/systemd/install.sh
# It copies bin/master and bin/worker to /usr/local/bin, creates the system
# user wsfleet (no home, no shell) and /etc/wsfleet (0700, root's: the
# source of the service's credentials, see wsfleet.service), installs the
# unit and reloads systemd. It starts nothing: then
#   sudo systemctl enable --now wsfleet
# DESTDIR=/some/root installs the files there instead, without the user
# or systemctl (for packaging and tests).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../../bin}
dest=${DESTDIR:-}

for f in master worker; do
	[ -x "$bin/$f" ] || { echo "install.sh: $bin/$f missing: run make build first" >&2; exit 1; }
done
install -d -m 0755 "$dest/usr/local/bin" "$dest/etc/systemd/system"
install -m 0755 "$bin/master" "$bin/worker" "$dest/usr/local/bin/"
install -d -m 0700 "$dest/etc/wsfleet"
install -m 0644 "$here/wsfleet.service" "$dest/etc/systemd/system/wsfleet.service"
# Connections queued on a dead worker's socket move to the others instead of
# being reset (docs/operations.md).
install -d -m 0755 "$dest/etc/sysctl.d"
echo 'net.ipv4.tcp_migrate_req = 1' >"$dest/etc/sysctl.d/60-wsfleet.conf"
if [ -z "$dest" ]; then
	if ! getent passwd wsfleet >/dev/null; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --comment "wsfleet WebSocket server" wsfleet
	fi
	sysctl -q -p /etc/sysctl.d/60-wsfleet.conf || echo "install.sh: could not set net.ipv4.tcp_migrate_req (a kernel before 5.14?)" >&2
	systemctl daemon-reload
fi
echo "installed; start it with: sudo systemctl enable --now wsfleet"
