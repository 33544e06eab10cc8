#!/bin/sh
# One HTTP/1.x request on stdin/stdout (run per connection by `nc -ll -e`): exact paths
# /healthz and /metrics, anything else burns CPU. Always Connection: close. Builtins only
# (see lib.sh): the header loop ends on an empty line or a bare CR (a 1-character line).
. /srv/web/lib.sh
read -r -t 10 method target proto || exit 0
while read -r -t 10 line; do
  case $line in ''|?) break;; esac
done
path=${target%%\?*}
query=; case $target in *\?*) query=${target#*\?};; esac
respond() { # status type body
  printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$1" "$2" "${#3}" "$3"
}
case $path in
  /healthz)
    if healthy; then respond '200 OK' text/plain ok; else respond '503 Service Unavailable' text/plain unhealthy; fi ;;
  /metrics)
    metrics_json; respond '200 OK' application/json "$BODY
" ;;
  *)
    work "$query"; respond '200 OK' text/plain "$BODY
" ;;
esac
