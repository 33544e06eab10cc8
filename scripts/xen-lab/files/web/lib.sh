# Shared by the port-80 router and the CGIs of the lab's web guest (busybox ash).
# Same HTTP contract as templates/images/web/server.mjs (the local driver's guest):
#   /healthz  200 "ok" | 503 "unhealthy" (file /run/web/unhealthy or /srv/unhealthy, or
#             `unhealthy=1` on the kernel command line)
#   /metrics  JSON {"rps","inflight","requests_total","cpu_seconds"} (rps over the last 5 s;
#             /healthz and /metrics are not counted; cpu_seconds is the whole domU's busy time)
#   anything else: burn WORK_MS ms of CPU (?ms=N, capped at MAX_WORK_MS), then 200
# Only shell builtins run in the hot loops (no fork per iteration), so a request really costs
# the domU ~ms of CPU, which xentop in dom0 shows.
W=/run/web
MAX_WORK_MS=5000

# NOW = centiseconds since boot (from /proc/uptime, no fork)
now_cs() {
  read -r _u _x < /proc/uptime
  NOW=$(( ${_u%.*} * 100 + 1${_u#*.} - 100 ))
}

# cmdline KEY -> value of KEY= on the kernel command line (empty if absent)
cmdline() {
  for _kv in $(cat /proc/cmdline); do
    case $_kv in "$1"=*) echo "${_kv#*=}"; return;; esac
  done
}

work_ms_default() {
  [ -f $W/work_ms ] && read -r _d < $W/work_ms
  case ${_d:-} in ''|*[!0-9]*) echo 15;; *) echo "$_d";; esac
}

# burn MS: busy-loop for MS milliseconds (10 ms resolution)
burn() {
  now_cs; _end=$(( NOW + ($1 + 9) / 10 ))
  while [ "$NOW" -lt "$_end" ]; do now_cs; done
}

# ms_from_query QUERY -> the ms to burn
ms_from_query() {
  _ms=$(work_ms_default)
  _old_ifs=$IFS; IFS='&'
  for _kv in $1; do
    case $_kv in ms=*) _v=${_kv#ms=}; case $_v in ''|*[!0-9]*) ;; *) _ms=$_v;; esac;; esac
  done
  IFS=$_old_ifs
  [ "$_ms" -gt $MAX_WORK_MS ] && _ms=$MAX_WORK_MS
  echo "$_ms"
}

healthy() {
  [ ! -e $W/unhealthy ] && [ ! -e /srv/unhealthy ] && [ "$(cmdline unhealthy)" != 1 ]
}

# work QUERY -> burns, prints the response body
work() {
  _ms=$(ms_from_query "$1")
  now_cs; _sec=$(( NOW / 100 ))
  printf . >> $W/req.$_sec; printf . >> $W/total
  : > $W/inflight.$$
  burn "$_ms"
  rm -f $W/inflight.$$
  echo "$(hostname) worked $_ms ms"
}

metrics_json() {
  now_cs; _sec=$(( NOW / 100 )); _n=0
  for _f in $W/req.*; do
    [ -f "$_f" ] || continue
    _t=${_f##*.}
    if [ "$_t" -le $(( _sec - 60 )) ]; then rm -f "$_f"
    elif [ "$_t" -gt $(( _sec - 5 )) ]; then _n=$(( _n + $(wc -c < "$_f") )); fi
  done
  read -r _start < $W/started
  _w=$(( (NOW - _start) / 100 )); [ $_w -lt 1 ] && _w=1; [ $_w -gt 5 ] && _w=5
  _r=$(( _n * 100 / _w ))
  _inf=0; for _f in $W/inflight.*; do [ -e "$_f" ] && _inf=$(( _inf + 1 )); done
  _tot=0; [ -f $W/total ] && _tot=$(wc -c < $W/total)
  read -r _c _us _ni _sy _id _io _irq _sirq _st _rest < /proc/stat
  _busy=$(( _us + _ni + _sy + _irq + _sirq + _st ))
  printf '{"rps":%d.%02d,"inflight":%d,"requests_total":%d,"cpu_seconds":%d.%02d}\n' \
    $(( _r / 100 )) $(( _r % 100 )) "$_inf" "$_tot" $(( _busy / 100 )) $(( _busy % 100 ))
}
