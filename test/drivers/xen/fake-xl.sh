#!/bin/sh
# A stand-in for xl(1) for driver tests against a real sshd on loopback, where no Xen runs.
# It keeps "domains" as files under $XL_STATE/domains and answers with the same shapes, exit
# codes and error texts as Xen 4.17's xl (copied from the lab's verbatim outputs). The real
# thing is exercised by test/xen/xen-driver.test.ts against the Xen lab.
# Knobs (files in $XL_STATE): free_memory (MiB, default 2014), shutdown_hangs (the guest ignores
# xl shutdown), create_fails_hotplug (create fails like a hotplug script timeout), create_slow
# (create takes 0.5 s and, like the real block hotplug lock under contention, fails when another
# create is running; each overlap is counted in $XL_STATE/overlaps), create_delay (seconds a
# create takes before the domain exists; it touches $XL_STATE/create_started first), after_create
# (a shell script run once a create has succeeded: what another process does meanwhile), info_delay
# (seconds `xl info` takes, as on a dom0 too busy to answer), nr_cpus (default 2), cpu/NAME (the
# CPU% xentop reports for domain NAME, Domain-0 included; default 0.0). Called as
# `fake-xl.sh xentop -b ...` it prints xentop's batch output (two iterations, the first all 0.0
# as the real one) for Domain-0 and every domain. Every call's argv is appended to $XL_STATE/argv.
# `xl pause`/`xl unpause` keep $XL_STATE/paused/NAME; a paused domain lists as --p--- and does
# not act on `xl shutdown` (its kernel runs no instruction); unpausing one not paused fails as
# Xen's does (the system controller's pause count is 0).
# `xl list -l` reports each domain's vCPUs and memory now and at most from $XL_STATE/size/NAME
# (written at create, changed by vcpu-set/mem-set), as libxl reports a running domain's.
# `xl migrate DOMAIN HOST` moves the domain file to the state folder $XL_STATE/peers/HOST names
# (migrate_fails, or no such peer, fails as an unreachable target does, the domain kept).
# xen_scheduler (default credit2) is what xl info says; sched-credit / sched-credit2 -d DOM -w W
# -c C keep W and C in $XL_STATE/sched/DOM (only the scheduler xl info names is accepted, as
# on Xen, where the other one fails) and sched_fails makes them fail.
set -u
S=${XL_STATE:?}
D=$S/domains
mkdir -p "$D"
free=$(cat "$S/free_memory" 2>/dev/null || echo 2014)
invalid() { echo "$1 is an invalid domain identifier (rc=-6)" >&2; exit 1; }
cfgval() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*\$/\1/p" "$2" | head -1; }
echo "$*" >> "$S/argv"
cmd=${1:-}; shift || true
case $cmd in
info)
  [ -f "$S/info_delay" ] && sleep "$(cat "$S/info_delay")"
  printf 'host                   : (none)\nnr_cpus                : %s\ntotal_memory           : 3071\nfree_memory            : %s\nxen_version            : 4.17.7\nxen_scheduler          : %s\n' "$(cat "$S/nr_cpus" 2>/dev/null || echo 2)" "$free" "$(cat "$S/xen_scheduler" 2>/dev/null || echo credit2)"
  ;;
sched-credit|sched-credit2)
  want=$(cat "$S/xen_scheduler" 2>/dev/null || echo credit2)
  if [ "sched-$want" != "$cmd" ]; then echo "Scheduler is not ${cmd#sched-}" >&2; exit 1; fi
  [ "${1:-}" = -d ] || { echo "fake xl: $cmd needs -d" >&2; exit 2; }
  dom=$2; shift 2
  [ -f "$D/$dom" ] || invalid "$dom"
  if [ -f "$S/sched_fails" ]; then echo "libxl: error: libxl_sched.c:399:sched_credit2_domain_set: Domain $dom:setting domain sched credit2: Invalid argument" >&2; exit 1; fi
  mkdir -p "$S/sched"; w=256; c=0; [ -f "$S/sched/$dom" ] && read -r w c < "$S/sched/$dom"
  while [ $# -gt 0 ]; do case $1 in -w) w=$2; shift 2 ;; -c) c=$2; shift 2 ;; *) echo "fake xl: bad $cmd argument $1" >&2; exit 2 ;; esac; done
  echo "$w $c" > "$S/sched/$dom"
  ;;
xentop)
  row() { printf '%10s %6s %10s %6s %10s %6s %10s %9s %5s %4s %8s %8s %4s %8s %8s %8s %10s %10s %4s\n' "$1" --b--- 8 "$2" "$3" 3.1 "$3" 3.2 1 1 2 1 1 0 12 4 104 0 0; }
  for it in 1 2; do
    printf '      NAME  STATE   CPU(sec) CPU(%%)     MEM(k) MEM(%%)  MAXMEM(k) MAXMEM(%%) VCPUS NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID\n'
    for name in Domain-0 $(ls "$D"); do
      cpu=0.0; [ $it = 2 ] && [ -f "$S/cpu/$name" ] && cpu=$(cat "$S/cpu/$name")
      mem=1048576; [ -f "$D/$name" ] && mem=$(($(cut -d' ' -f2 "$D/$name") * 1024))
      row "$name" "$cpu" "$mem"
    done
  done
  ;;
list)
  if [ "${1:-}" = -l ]; then
    printf '[\n    {\n        "domid": 0,\n        "config": { "c_info": { "type": "pv", "name": "Domain-0" }, "b_info": { "max_memkb": 1048576, "target_memkb": 1048575 } }\n    }'
    for f in "$D"/*; do
      [ -f "$f" ] || continue
      read -r domid mem uuid mac disk extra < "$f"
      # Its size now (as libxl reports it: vCPUs online, memory target), once create kept one.
      vc=1 mvc=1 cm=$mem mm=$mem
      [ -f "$S/size/$(basename "$f")" ] && read -r vc mvc cm mm < "$S/size/$(basename "$f")"
      avail=0 i=1; while [ $i -lt "$vc" ]; do avail="$avail, $i"; i=$((i + 1)); done
      printf ',\n    {\n        "domid": %s,\n        "config": { "c_info": { "type": "pv", "name": "%s", "uuid": "%s" }, "b_info": { "max_vcpus": %s, "avail_vcpus": [%s], "max_memkb": %s, "target_memkb": %s, "cmdline": "%s" }, "disks": [ { "pdev_path": "%s", "vdev": "xvda" } ], "nics": [ { "devid": 0, "mac": "%s", "bridge": "xenbr0" } ] }\n    }' \
        "$domid" "$(basename "$f")" "$uuid" "$mvc" "$avail" $((mm * 1024)) $((cm * 1024)) "$extra" "$disk" "$mac"
    done
    printf '\n]\n\n'
  elif [ -n "${1:-}" ]; then
    [ -f "$D/$1" ] || invalid "$1"
    st=-b----; [ -f "$S/paused/$1" ] && st=--p---
    printf 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n%-40s %5s %5s     1     %s       1.0\n' "$1" "$(cut -d' ' -f1 "$D/$1")" "$(cut -d' ' -f2 "$D/$1")" "$st"
  else
    printf 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n%-40s %5s %5s     2     r-----      12.3\n' Domain-0 0 1023
    for f in "$D"/*; do
      [ -f "$f" ] || continue
      printf '%-40s %5s %5s     1     -b----       1.0\n' "$(basename "$f")" "$(cut -d' ' -f1 "$f")" "$(cut -d' ' -f2 "$f")"
    done
  fi
  ;;
create)
  cfg=$1
  echo "Parsing config from $cfg" >&2
  name=$(cfgval name "$cfg"); mem=$(cfgval memory "$cfg"); uuid=$(cfgval uuid "$cfg"); extra=$(cfgval extra "$cfg")
  mac=$(sed -n "s/.*mac=\([0-9a-f:]*\).*/\1/p" "$cfg" | head -1)
  disk=$(sed -n "s/.*target=\([^']*\)'.*/\1/p" "$cfg" | head -1)
  n=$(($(cat "$S/next_domid" 2>/dev/null || echo 0) + 1)); echo $n > "$S/next_domid"
  if [ -f "$D/$name" ]; then
    echo "libxl: error: libxl_domain.c:81:libxl__domain_rename: Domain $n:Domain with name \"$name\" already exists." >&2
    echo "libxl: error: libxl_create.c:1296:initiate_domain_create: Domain $n:cannot make domain: -6" >&2; exit 3
  fi
  if [ -n "$disk" ] && [ ! -e "$disk" ]; then
    echo "libxl: error: libxl_device.c:455:libxl__device_disk_set_backend: Disk vdev=xvda failed to stat: $disk: No such file or directory" >&2
    echo "libxl: error: libxl_create.c:1318:initiate_domain_create: Domain $n:Unable to set disk defaults for disk 0" >&2; exit 3
  fi
  if [ "$mem" -gt "$free" ]; then
    echo "xc: error: panic: xg_dom_boot.c:119: xc_dom_boot_mem_init: can't allocate low memory for domain: Out of memory" >&2
    echo "libxl: error: libxl_dom.c:586:libxl__build_dom: xc_dom_boot_mem_init failed: Cannot allocate memory" >&2; exit 3
  fi
  [ -f "$S/create_delay" ] && { : > "$S/create_started"; sleep "$(cat "$S/create_delay")"; }
  echo "$n $mem $uuid $mac $disk $extra" > "$D/$name"
  vc=$(cfgval vcpus "$cfg"); mvc=$(cfgval maxvcpus "$cfg"); mmem=$(cfgval maxmem "$cfg")
  mkdir -p "$S/size"; echo "${vc:-1} ${mvc:-${vc:-1}} $mem ${mmem:-$mem}" > "$S/size/$name"
  if [ -f "$S/create_fails_hotplug" ]; then
    # libxl fails after the domain exists (a paused leftover a careless caller would leak)
    echo "libxl: error: libxl_aoutils.c:539:async_exec_timeout: killing execution of /etc/xen/scripts/block add because of timeout" >&2
    echo "libxl: error: libxl_create.c:1919:domcreate_attach_devices: Domain $n:unable to add disk devices" >&2; exit 3
  fi
  if [ -f "$S/create_slow" ]; then
    if ! mkdir "$S/creating" 2>/dev/null; then
      echo x >> "$S/overlaps"
      echo "libxl: error: libxl_aoutils.c:539:async_exec_timeout: killing execution of /etc/xen/scripts/block add because of timeout" >&2; exit 3
    fi
    sleep 0.5; rmdir "$S/creating"
  fi
  echo $((free - mem)) > "$S/free_memory"
  if [ -f "$S/after_create" ]; then sh "$S/after_create"; fi
  ;;
domid)
  [ -f "$D/$1" ] || invalid "$1"; cut -d' ' -f1 "$D/$1"
  ;;
shutdown)
  [ "${1:-}" = -w ] && shift
  [ -f "$D/$1" ] || invalid "$1"
  if [ -f "$S/shutdown_hangs" ] || [ -f "$S/paused/$1" ]; then echo "Shutting down domain $(cut -d' ' -f1 "$D/$1")"; exit 0; fi
  echo "Shutting down domain $(cut -d' ' -f1 "$D/$1")"; echo "Waiting for 1 domains"
  echo $((free + $(cut -d' ' -f2 "$D/$1"))) > "$S/free_memory"; rm -f "$D/$1"
  ;;
destroy)
  [ -f "$D/$1" ] || invalid "$1"
  [ -f "$S/create_fails_hotplug" ] || echo $((free + $(cut -d' ' -f2 "$D/$1"))) > "$S/free_memory"
  rm -f "$D/$1" "$S/paused/$1"
  ;;
pause)
  [ -f "$D/$1" ] || invalid "$1"
  mkdir -p "$S/paused"; : > "$S/paused/$1"
  ;;
unpause)
  [ -f "$D/$1" ] || invalid "$1"
  if [ ! -f "$S/paused/$1" ]; then
    echo "libxl: error: libxl_domain.c:664:libxl__domain_unpause: Domain $(cut -d' ' -f1 "$D/$1"):Unpausing domain: Invalid argument" >&2; exit 1
  fi
  rm -f "$S/paused/$1"
  ;;
vcpu-set|mem-set)
  # vcpu-set DOMAIN N / mem-set DOMAIN NNNm: $XL_STATE/size/DOMAIN keeps "vcpus maxvcpus memory
  # maxmem" (from the cfg at create); above the max is refused as Xen does; vcpu_set_fails /
  # mem_set_fails make them fail.
  dom=$1; want=$2
  [ -f "$D/$dom" ] || invalid "$dom"
  read -r vc mvc mem mmem < "$S/size/$dom"
  if [ "$cmd" = vcpu-set ]; then
    [ -f "$S/vcpu_set_fails" ] && { echo "libxl: error: libxl_domain.c:1870:libxl_set_vcpuonline: Domain $vc:Requested 2 VCPUs, however maxcpus is 1!: Function not implemented" >&2; exit 1; }
    [ "$want" -gt "$mvc" ] && { echo "libxl: error: libxl_domain.c:1870:libxl_set_vcpuonline: Domain $(cut -d' ' -f1 "$D/$dom"):Requested $want VCPUs, however maxcpus is $mvc!: Function not implemented" >&2; exit 1; }
    vc=$want
  else
    [ -f "$S/mem_set_fails" ] && { echo "libxl: error: libxl_mem.c:140:libxl__memory_set: memory_dynamic_max must be less than or equal to memory_static_max" >&2; exit 1; }
    m=${want%m}
    [ "$m" -gt "$mmem" ] && { echo "libxl: error: libxl_mem.c:140:libxl__memory_set: memory_dynamic_max must be less than or equal to memory_static_max" >&2; exit 1; }
    mem=$m
  fi
  echo "$vc $mvc $mem $mmem" > "$S/size/$dom"
  ;;
migrate)
  # xl migrate [-s SSHCOMMAND] [-C CONFIG] DOMAIN HOST: the domain moves to the dom0 whose state
  # folder $XL_STATE/peers/HOST names (the test's map of addresses); migrate_fails fails it as a
  # target that cannot be reached does, the domain still running here.
  while [ $# -gt 2 ]; do case $1 in -s|-C) shift 2 ;; *) shift ;; esac; done
  dom=$1; to=$2
  [ -f "$D/$dom" ] || invalid "$dom"
  peer=$(cat "$S/peers/$to" 2>/dev/null || true)
  if [ -z "$peer" ] || [ -f "$S/migrate_fails" ]; then
    echo "ssh: connect to host $to port 22: Connection refused" >&2
    echo "migration target: Read 0/4 bytes of migration target banner" >&2
    echo "xl: error: migration sender: Read of migration target banner failed (rc=-3)" >&2; exit 1
  fi
  mem=$(cut -d' ' -f2 "$D/$dom")
  mkdir -p "$peer/domains"; mv "$D/$dom" "$peer/domains/$dom"
  echo $((free + mem)) > "$S/free_memory"
  pfree=$(cat "$peer/free_memory" 2>/dev/null || echo 2014); echo $((pfree - mem)) > "$peer/free_memory"
  echo "migration sender: Target has acknowledged transfer." >&2
  echo "Migration successful." >&2
  ;;
*) echo "fake xl: unsupported command $cmd" >&2; exit 2 ;;
esac
