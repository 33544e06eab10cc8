#!/bin/bash
# Build gridhost's Xen lab (Xen 4.17 + a Debian dom0 initramfs + a busybox web domU) from
# Debian packages only, cached OUTSIDE the repo and keyed by a hash of the recipe.
#
# usage: scripts/xen-lab/build.sh            (last stdout line: LAB_BUILD=<dir>; logs on stderr)
# env:   GRIDHOST_LAB_CACHE  cache root (default /var/cache/gridhost-xen-lab)
#
# Where things come from:
#   - Xen and the kernel: `apt-get download` + `dpkg -x` (never installed on the host).
#   - dom0/domU user space (busybox-static, dropbear-bin, bash, util-linux, coreutils, xfsprogs,
#     lvm2, qemu-utils): Debian packages installed on the host with apt-get, copied into the
#     initramfs with the shared libraries ldd resolves (the host is the same Debian release).
# Output in $CACHE/builds/<key>/: xen (gunzipped multiboot ELF of xen-4.17-amd64.gz), vmlinux
# (dom0 and domU kernel, uncompressed ELF), dom0.cpio.gz, domU.cpio.gz, base.img, build.env.
# Lab-wide keys in $CACHE/keys/: id_ed25519 (client), dropbear_ed25519_host_key,
# dom0_host_key.pub and dom0_host_key.sha256 (the fingerprint gridhost pins, "SHA256:...").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${GRIDHOST_LAB_CACHE:-/var/cache/gridhost-xen-lab}
log() { echo "[xen-lab build] $*" >&2; }
T0=$(date +%s.%N)
elapsed() { awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }'; }

mkdir -p "$CACHE"
exec 9>"$CACHE/build.lock"
flock 9 # one build at a time; a second caller waits, then finds the result cached

# ------------------------------------------------------------------ host tools (Debian packages)
"$HERE/../ensure-packages.sh" xen # the one list of host packages the lab copies or runs

# ------------------------------------------------------------------ keys (lab-wide, made once)
K=$CACHE/keys
mkdir -p "$K"; chmod 700 "$K"
[ -f "$K/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C gridhost-xen-lab -f "$K/id_ed25519"
if [ ! -f "$K/dropbear_ed25519_host_key" ]; then
  dropbearkey -t ed25519 -f "$K/dropbear_ed25519_host_key" >/dev/null 2>&1
  rm -f "$K/dom0_host_key.pub" "$K/dom0_host_key.sha256"
fi
if [ ! -s "$K/dom0_host_key.sha256" ]; then
  dropbearkey -y -f "$K/dropbear_ed25519_host_key" | grep '^ssh-ed25519 ' | awk '{print $1" "$2" gridhost-xen-lab-dom0"}' > "$K/dom0_host_key.pub"
  ssh-keygen -lf "$K/dom0_host_key.pub" | awk '{print $2}' > "$K/dom0_host_key.sha256"
fi

# ------------------------------------------------------------------ kernel ABI + recipe key
KVER=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')
if [ -z "$KVER" ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  KVER=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')
fi
[ -n "$KVER" ] || { log "cannot find Debian's linux-image-amd64 kernel ABI"; exit 1; }
KEY=$( { echo "$KVER"; cat "$HERE/build.sh"; (cd "$HERE/files" && find . -type f | LC_ALL=C sort | xargs sha256sum);
         cat "$K/id_ed25519.pub" "$K/dom0_host_key.pub"; } | sha256sum | cut -c1-16)
OUT=$CACHE/builds/$KEY
if [ -f "$OUT/build.env" ]; then
  log "cached: $OUT"
  echo "LAB_BUILD=$OUT"
  exit 0
fi
log "building $KEY (kernel $KVER) into $OUT"

# ------------------------------------------------------------------ Xen + kernel packages (dpkg -x)
X=$CACHE/x-$KVER
if [ ! -f "$X/.extracted" ]; then
  rm -rf "$X" "$CACHE/debs-$KVER"; mkdir -p "$CACHE/debs-$KVER" "$X"
  (cd "$CACHE/debs-$KVER" &&
   apt-get download xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common \
     libxenmisc4.17 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 \
     libxenstore4 libxentoollog1 libxendevicemodel1 libxenhypfs1 libxentoolcore1 \
     libyajl2 xenstore-utils "linux-image-$KVER" >&2)
  for d in "$CACHE/debs-$KVER"/*.deb; do dpkg -x "$d" "$X"; done
  [ -f "$X/lib/modules/$KVER/modules.dep" ] || busybox depmod -b "$X" "$KVER"
  touch "$X/.extracted"
fi
XL_LIBS="$X/usr/lib/x86_64-linux-gnu:$X/usr/lib/xen-4.17/lib/x86_64-linux-gnu"

TMP=$CACHE/tmp.$$
rm -rf "$TMP"; mkdir -p "$TMP/out"
trap 'rm -rf "$TMP"' EXIT
O=$TMP/out

zcat "$X/boot/xen-4.17-amd64.gz" > "$O/xen"
# The bzImage's payload is xz; an uncompressed ELF saves seconds of emulated decompression at
# every dom0 boot and every `xl create` (libxenguest would unpack it in dom0 user space).
python3 - "$X/boot/vmlinuz-$KVER" "$O/vmlinux" <<'PY'
import lzma, sys
d = open(sys.argv[1], 'rb').read()
i = d.find(b'\xfd7zXZ\x00')
open(sys.argv[2], 'wb').write(lzma.LZMADecompressor().decompress(d[i:]))
PY

# ------------------------------------------------------------------ helpers
# copy_bin ROOT SRC [DST]: a binary and the shared libraries it needs (extracted Xen libs first)
copy_bin() {
  local root=$1 src=$2 dst=${3:-$2} lib rel
  mkdir -p "$root$(dirname "$dst")"
  cp -L "$src" "$root$dst"
  LD_LIBRARY_PATH=$XL_LIBS ldd "$src" 2>/dev/null | awk '/=>/ {print $3} /^[ \t]*\/lib64/ {print $1}' |
  while read -r lib; do
    [ -n "$lib" ] || continue
    case $lib in "$X"/*) rel=${lib#"$X"} ;; *) rel=$lib ;; esac
    rel=${rel#/usr}
    [ -e "$root/usr$rel" ] || { mkdir -p "$root/usr$(dirname "$rel")"; cp -L "$lib" "$root/usr$rel"; }
  done
}
# copy_mods ROOT MODDIR KVER MOD...: modules with their dependencies (missing = built in)
copy_mods() {
  local root=$1 md=$2 kv=$3 m line f; shift 3
  for m in "$@"; do
    line=$(grep -E "/$m\.ko(\.[a-z]+)?:" "$md/modules.dep") || { log "module $m: built in or absent"; continue; }
    for f in ${line%%:*} ${line#*:}; do
      mkdir -p "$root/lib/modules/$kv/$(dirname "$f")"
      cp -n "$md/$f" "$root/lib/modules/$kv/$f"
    done
  done
  cp "$md/modules.builtin" "$md/modules.order" "$root/lib/modules/$kv/" 2>/dev/null || true
  busybox depmod -b "$root" "$kv"
}
# skeleton ROOT: merged-/usr tree with static busybox and its applet links
skeleton() {
  local r=$1 a
  rm -rf "$r"; mkdir -p "$r"/{usr/bin,usr/sbin,usr/lib/x86_64-linux-gnu,usr/lib64,proc,sys,dev,run,tmp,root,etc,mnt,srv,var/lib,var/log}
  ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"; ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"
  ln -s ../run "$r/var/run"; ln -s ../run/lock "$r/var/lock"
  cp /bin/busybox "$r/usr/bin/busybox"
  for a in $(busybox --list-full); do # e.g. usr/sbin/brctl, sbin/ip, bin/sh (merged into usr/)
    case $a in */*) ;; *) continue ;; esac
    d=${a%/*}; d=${d#usr/}
    [ -e "$r/usr/$d/${a##*/}" ] || ln -s /usr/bin/busybox "$r/usr/$d/${a##*/}"
  done
  chmod 1777 "$r/tmp"
  ln -sf /usr/bin/busybox "$r/init"
}
mkcpio() { (cd "$1" && find . | cpio -o -H newc --quiet -R 0:0 | gzip "-$2") > "$3"; }
MD=$X/lib/modules/$KVER
F=$HERE/files

# ------------------------------------------------------------------ domU ramdisk
G=$TMP/rootfs-domU
skeleton "$G"
copy_mods "$G" "$MD" "$KVER" xen-netfront xen-blkfront ext4 crc32c_generic
cp "$F/domU/inittab" "$G/etc/inittab"; cp "$F/domU/rc" "$G/etc/rc"; chmod +x "$G/etc/rc"
echo 'root:x:0:0:root:/root:/bin/sh' > "$G/etc/passwd"; echo 'root:x:0:' > "$G/etc/group"
mkcpio "$G" 9 "$O/domU.cpio.gz"

# ------------------------------------------------------------------ base disk image (ext2, 16 MB)
# The guest's service lives on the disk: cloning the image is what makes a new guest.
B=$TMP/basefs
mkdir -p "$B"; cp -a "$F/web" "$B/web"; chmod -R a+rX "$B/web"
truncate -s 16M "$O/base.img"
mke2fs -q -t ext2 -L gridhost-web -d "$B" -F "$O/base.img"

# ------------------------------------------------------------------ dom0 initramfs
D=$TMP/rootfs-dom0
skeleton "$D"
copy_mods "$D" "$MD" "$KVER" xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback xen-netback \
  bridge loop virtio_net virtio_pci tun crc32c_generic xfs dm-mod dm-snapshot nbd
# Xen toolstack at Debian's paths (/usr/sbin/xl in Debian is a wrapper script: link the real one)
mkdir -p "$D/usr/lib/xen-4.17"
cp -a "$X/usr/lib/xen-4.17/bin" "$X/usr/lib/xen-4.17/lib" "$D/usr/lib/xen-4.17/"
rm -f "$D"/usr/lib/xen-4.17/bin/test-* "$D/usr/lib/xen-4.17/bin/oxenstored" "$D/usr/lib/xen-4.17/bin/pygrub"
cp -a "$X"/usr/lib/x86_64-linux-gnu/libxen* "$X"/usr/lib/x86_64-linux-gnu/libyajl* "$D/usr/lib/x86_64-linux-gnu/"
for b in xl xenstored xenconsoled xen-init-dom0 xentop libxl-save-helper xenconsole; do
  copy_bin "$D" "$X/usr/lib/xen-4.17/bin/$b" "/usr/lib/xen-4.17/bin/$b"
done
for b in xl xentop xenstored xenconsoled; do ln -sf /usr/lib/xen-4.17/bin/$b "$D/usr/sbin/$b"; done
for b in "$X"/usr/bin/xenstore*; do
  rm -f "$D/usr/bin/$(basename "$b")"
  if [ -L "$b" ]; then cp -a "$b" "$D/usr/bin/"; else copy_bin "$D" "$b" "/usr/bin/$(basename "$b")"; fi
done
mkdir -p "$D/etc/xen/guests"; cp -a "$X/etc/xen/scripts" "$X/etc/xen/xl.conf" "$D/etc/xen/"
# glibc dlopen()s libgcc_s for pthread_cancel: without it xl aborts
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$D/usr/lib/x86_64-linux-gnu/"
# Real tools over busybox applets: hotplug scripts need bash/flock/losetup; cp for --reflink;
# mkfs.xfs for the reflink store; lvm for lvcreate -s; qemu-img/qemu-nbd for qcow2 clones.
for b in /usr/bin/bash /usr/bin/flock /usr/sbin/losetup /usr/bin/cp /usr/sbin/mkfs.xfs /usr/sbin/lvm \
         /usr/sbin/dmsetup /usr/bin/qemu-img /usr/bin/qemu-nbd /usr/sbin/dropbear /usr/bin/mountpoint; do
  rm -f "$D$b"; copy_bin "$D" "$b"
done
for l in pvcreate pvs vgcreate vgs vgchange lvcreate lvremove lvs lvchange lvdisplay lvextend; do
  ln -sf lvm "$D/usr/sbin/$l"
done
mkdir -p "$D/etc/lvm"; cp "$F/dom0/lvm.conf" "$D/etc/lvm/lvm.conf"
mkdir -p "$D/usr/local/sbin"; cp "$F/dom0/lab-stores" "$D/usr/local/sbin/"; chmod +x "$D"/usr/local/sbin/*
# sshd: dropbear with the lab's host key; root logs in with the lab's key only
mkdir -p "$D/etc/dropbear" "$D/root/.ssh"
cp "$K/dropbear_ed25519_host_key" "$D/etc/dropbear/"
cp "$K/id_ed25519.pub" "$D/root/.ssh/authorized_keys"
chmod 700 "$D/root" "$D/root/.ssh"; chmod 600 "$D/root/.ssh/authorized_keys"
# root's shell is bash: Debian's static busybox ash runs its own applets before PATH (its cp has
# no --reflink, its losetup no --show), so commands over ssh would not get the real tools.
echo 'root:x:0:0:root:/root:/bin/bash' > "$D/etc/passwd"; echo 'root:x:0:' > "$D/etc/group"
printf '/bin/sh\n/bin/bash\n' > "$D/etc/shells"
echo 'export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' > "$D/etc/profile"
cp "$D/etc/profile" "$D/root/.bashrc"
# guest kernel + ramdisk (read-only, in the initramfs); base image copied into the stores at boot
mkdir -p "$D/var/lib/xen/boot" "$D/usr/share/gridhost-lab"
cp "$O/vmlinux" "$O/domU.cpio.gz" "$D/var/lib/xen/boot/"
cp "$O/base.img" "$D/usr/share/gridhost-lab/base.img"
cp "$F/dom0/inittab" "$D/etc/inittab"; cp "$F/dom0/rc" "$D/etc/rc"; chmod +x "$D/etc/rc"
mkcpio "$D" 1 "$O/dom0.cpio.gz"

XENVER=$(dpkg-deb -f "$CACHE"/debs-"$KVER"/xen-hypervisor-4.17-amd64_*.deb Version)
cat > "$O/build.env" <<EOF
LAB_KEY_HASH=$KEY
LAB_KVER=$KVER
LAB_XEN_VERSION=$XENVER
LAB_BUILT_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LAB_BUILD_SECONDS=$(elapsed)
EOF
mkdir -p "$CACHE/builds"
rm -rf "$OUT"; mv "$O" "$OUT"
# keep the two newest builds
ls -1dt "$CACHE"/builds/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
log "built in $(elapsed) s: $(du -sh "$OUT" | cut -f1) ($(ls -la "$OUT/dom0.cpio.gz" | awk '{print $5}') bytes dom0 initramfs)"
echo "LAB_BUILD=$OUT"
