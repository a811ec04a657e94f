#!/usr/bin/env bash
# Installs what `make bench` compares Airlock with, when missing: nginx
# (Debian's nginx-light) as the plain reverse-proxy baseline.
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
	echo "bench-deps: apt-get install nginx-light"
	$SUDO apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
fi
echo "bench-deps: ok ($(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1))"
