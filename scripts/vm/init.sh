#!/bin/busybox sh
# init.sh — PID 1 of the test VM (copied to /init in the initramfs by build-initramfs.sh).
#
# The kernel unpacks the initramfs into a RAM file system and runs /init. Nothing else is
# running yet: no udev, no systemd, no mounts. This script does the little a container runtime
# needs — proc, sys, dev, a cgroup v2 tree at /sys/fs/cgroup (the "unified" layout every
# modern distribution uses), tmpfs for /tmp and /var, the kernel modules for overlayfs and
# networking, a loopback interface — then runs the VM test files and powers off.
#
# The result travels back on the serial console as one line: MINIBOX_VM_EXIT=<code>.
# Stage 1: leave the initramfs. Its root ("rootfs") can never be pivot_root'ed away from, and
# every container start does pivot_root — so copy everything into a tmpfs and switch_root
# there (which also frees the initramfs copy); this script then runs again as the new /init.
if [ ! -e /.vm-real-root ]; then
  /bin/busybox mkdir -p /newroot
  /bin/busybox mount -t tmpfs -o size=90% tmpfs /newroot
  for entry in /*; do
    [ "$entry" = /newroot ] || /bin/busybox cp -a "$entry" /newroot/
  done
  /bin/busybox touch /newroot/.vm-real-root
  exec /bin/busybox switch_root /newroot /init
fi

/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TERM=dumb CI=1 NO_COLOR=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /var
mkdir -p /var/lib/minibox /var/tmp /run
mount -t tmpfs tmpfs /run

# Modules in dependency order (build-initramfs.sh resolved modules.dep on the host).
while read -r module; do
  [ -n "$module" ] && insmod "$module" 2>/dev/null
done < /etc/vm-modules

ip link set lo up
hostname minibox-vm

# Which test files to run: `minibox.tests=a.test.ts,b.test.ts` on the kernel command line.
tests=test/vm
for word in $(cat /proc/cmdline); do
  case "$word" in minibox.tests=*) tests=$(echo "${word#minibox.tests=}" | tr ',' ' ');; esac
done

cd /minibox
echo "MINIBOX_VM_START kernel=$(uname -r) cgroup-controllers=\"$(cat /sys/fs/cgroup/cgroup.controllers)\" cpus=$(nproc)"
node node_modules/vitest/vitest.mjs run --config scripts/vm/vitest.vm.config.ts $tests
code=$?
echo; echo "MINIBOX_VM_EXIT=$code"
sync
poweroff -f
