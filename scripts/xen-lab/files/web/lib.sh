# Shared by the port-80 router and the CGIs of the lab's web guest (busybox ash).
# Same HTTP contract as templates/images/web/server.mjs (the local driver's guest):
#   /healthz  200 "ok" | 503 "unhealthy" (file /run/web/unhealthy or /srv/unhealthy; `start`
#             makes the first when the kernel command line says `unhealthy=1`)
#   /metrics  JSON {"rps","inflight","requests_total","cpu_seconds"} (rps over the last 5 s;
#             /healthz and /metrics are not counted; cpu_seconds is the whole domU's busy time)
#   anything else: burn WORK_MS ms of CPU (?ms=N, capped at MAX_WORK_MS), then 200
# Forks are what cost here: a PV guest under QEMU/TCG pays ~30-40 ms of CPU for each one, and
# the balancer's health checks and gridhost's sampling hit every guest every second or two. So
# the paths run shell builtins only: /healthz costs just the per-connection fork of nc -e,
# a request adds one `rm`, /metrics one `rm` a minute. Counters are files of dots, one per
# request (appends of 1 byte are atomic), read back with `read` and ${#var}.
W=/run/web
MAX_WORK_MS=5000

# NOW = centiseconds since boot (from /proc/uptime, no fork)
now_cs() {
  read -r _u _x < /proc/uptime
  NOW=$(( ${_u%.*} * 100 + 1${_u#*.} - 100 ))
}

# dots FILE -> DOTS = its length (0 when missing)
dots() {
  _d=; [ -f "$1" ] && read -r _d < "$1"
  DOTS=${#_d}
}

# burn MS: busy-loop for MS milliseconds (10 ms resolution)
burn() {
  now_cs; _end=$(( NOW + ($1 + 9) / 10 ))
  while [ "$NOW" -lt "$_end" ]; do now_cs; done
}

# ms_from_query QUERY -> MS, the ms to burn
ms_from_query() {
  MS=; read -r MS < $W/work_ms
  case $MS in ''|*[!0-9]*) MS=15;; esac
  _old_ifs=$IFS; IFS='&'
  for _kv in $1; do
    case $_kv in ms=*) _v=${_kv#ms=}; case $_v in ''|*[!0-9]*) ;; *) MS=$_v;; esac;; esac
  done
  IFS=$_old_ifs
  [ "$MS" -gt $MAX_WORK_MS ] && MS=$MAX_WORK_MS
}

healthy() {
  [ ! -e $W/unhealthy ] && [ ! -e /srv/unhealthy ]
}

# work QUERY -> burns, sets BODY
work() {
  ms_from_query "$1"
  now_cs; _sec=$(( NOW / 100 ))
  printf . >> $W/req.$_sec
  : > $W/inflight.$$
  burn "$MS"
  rm -f $W/inflight.$$
  read -r _host < /proc/sys/kernel/hostname
  BODY="$_host worked $MS ms"
}

# metrics_json -> BODY. Per-second files older than 60 s are folded into $W/total_old (a number),
# so requests_total = total_old + the live files' dots.
metrics_json() {
  now_cs; _sec=$(( NOW / 100 )); _n=0; _live=0; _old=; _fold=0
  for _f in $W/req.*; do
    [ -f "$_f" ] || continue
    _t=${_f##*.}; dots "$_f"
    if [ "$_t" -le $(( _sec - 60 )) ]; then _fold=$(( _fold + DOTS )); _old="$_old $_f"
    else
      _live=$(( _live + DOTS ))
      [ "$_t" -gt $(( _sec - 5 )) ] && _n=$(( _n + DOTS ))
    fi
  done
  _tot=0; [ -f $W/total_old ] && read -r _tot < $W/total_old
  if [ -n "$_old" ]; then _tot=$(( _tot + _fold )); echo $_tot > $W/total_old; rm -f $_old; fi
  read -r _start < $W/started
  _w=$(( (NOW - _start) / 100 )); [ $_w -lt 1 ] && _w=1; [ $_w -gt 5 ] && _w=5
  _r=$(( _n * 100 / _w ))
  _inf=0; for _f in $W/inflight.*; do [ -e "$_f" ] && _inf=$(( _inf + 1 )); done
  read -r _c _us _ni _sy _id _io _irq _sirq _st _rest < /proc/stat
  _busy=$(( _us + _ni + _sy + _irq + _sirq + _st ))
  _rc=$(( _r % 100 )); [ $_rc -lt 10 ] && _rc=0$_rc
  _bc=$(( _busy % 100 )); [ $_bc -lt 10 ] && _bc=0$_bc
  BODY="{\"rps\":$(( _r / 100 )).$_rc,\"inflight\":$_inf,\"requests_total\":$(( _tot + _live )),\"cpu_seconds\":$(( _busy / 100 )).$_bc}"
}
