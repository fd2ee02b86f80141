#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The image's HEALTHCHECK: GET /health from the server in this container and exit 0 on a 200
# answer, 1 otherwise (503 while the model loads or the server drains, refused, no answer).
# The image has no curl, so this speaks HTTP/1.0 over bash's /dev/tcp. The port is the first
# argument, else PORT (as the server reads it), else 3000.
port="${1:-${PORT:-3000}}"
exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || exit 1
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
  "HTTP/1."[01]" 200 "*) exit 0 ;;
esac
exit 1
