#!/bin/bash
# mkimage.sh NAME OUTDIR AUTHORIZED_KEY_FILE [DEB_CACHE_DIR]
#
# Builds a bootable Debian guest disk (OUTDIR/disk.raw) for the qemu tests:
# msdos label, one ext4 root labelled "vmroot", extlinux in the MBR so the VM
# boots whatever is on its disk, DHCP on the NIC, root's authorized_keys, and
# SSH host keys generated now whose public halves are copied to OUTDIR so
# tests can check them strictly from the first connect.
#
# NAME is one of: bookworm, trixie, bookworm-sysvinit. Needs root, debootstrap,
# sfdisk, losetup, partx, mkfs.ext4, extlinux. The recipe hash the Go side
# uses covers this whole file, so any edit here rebuilds the images.
set -euo pipefail

name=$1 out=$2 key=$3 debcache=${4:-}
size=2G
label=vmroot
mirror=${PAROODISE_MIRROR:-http://deb.debian.org/debian}

common=linux-image-amd64,initramfs-tools,kmod,udev,openssh-server,iproute2,ca-certificates,procps,e2fsprogs,fdisk
cmdline="root=LABEL=$label rw console=ttyS0,115200n8"
case $name in
bookworm) suite=bookworm; pkgs=$common,systemd-sysv,dbus ;;
trixie) suite=trixie; pkgs=$common,systemd-sysv,dbus ;;
bookworm-sysvinit)
	suite=bookworm
	pkgs=$common,sysvinit-core,ifupdown,isc-dhcp-client
	# Classic eth0 naming, as an ifupdown server of that era would have.
	cmdline="$cmdline net.ifnames=0"
	;;
*) echo "mkimage.sh: unknown image $name" >&2; exit 2 ;;
esac

[ -d "$out" ] || { echo "mkimage.sh: $out is not a directory" >&2; exit 2; }
work=$(mktemp -d "$out/.work.XXXXXX")
root=$work/root
mnt=$work/mnt
loop=
cleanup() {
	set +e
	mountpoint -q "$mnt" && umount -R "$mnt"
	for d in dev/pts dev proc sys; do mountpoint -q "$root/$d" && umount "$root/$d"; done
	if [ -n "$loop" ]; then
		partx -d "$loop" 2>/dev/null
		losetup -d "$loop"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { echo "mkimage[$name] $(date +%T) $*"; }

step debootstrap $suite
cacheopt=()
if [ -n "$debcache" ]; then mkdir -p "$debcache"; cacheopt=(--cache-dir="$debcache"); fi
debootstrap --variant=minbase "${cacheopt[@]}" --include="$pkgs" "$suite" "$root" "$mirror"

step configure
echo "$name" >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" >"$root/etc/hosts"
echo "LABEL=$label / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$key" "$root/root/.ssh/authorized_keys"

# qemu's user network with restrict=on leaves the router out of its DHCP
# offers; a server has a default route (and takeover must keep it), so add it.
case $name in
bookworm-sysvinit)
	cat >"$root/etc/network/interfaces" <<-EOF
		auto lo
		iface lo inet loopback

		auto eth0
		iface eth0 inet dhcp
		    up ip route replace default via 10.0.2.2 dev eth0
	EOF
	;;
*)
	cat >"$root/etc/systemd/network/50-dhcp.network" <<-EOF
		[Match]
		Type=ether

		[Network]
		DHCP=ipv4

		[Route]
		Gateway=10.0.2.2
		GatewayOnLink=yes
	EOF
	chroot "$root" systemctl enable systemd-networkd.service
	# Nothing in the guest needs to wait for the network; waiting only slows boot.
	chroot "$root" systemctl mask systemd-networkd-wait-online.service
	;;
esac

# Host keys are made here, once per image build, so their public halves can be
# published next to the image and checked strictly.
rm -f "$root"/etc/ssh/ssh_host_*
for t in ed25519 ecdsa rsa; do
	ssh-keygen -q -t $t -N '' -C "root@$name" -f "$root/etc/ssh/ssh_host_${t}_key"
done

# Keep the image small: no package lists, archives, docs, man pages or
# drivers a virtio guest cannot use.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
	"$root"/usr/share/info/* "$root"/usr/share/locale/*
kver=$(basename "$(ls -d "$root"/lib/modules/*)")
moddir=$root/lib/modules/$kver/kernel
rm -rf "$moddir"/drivers/{gpu,media,infiniband,staging,bluetooth,isdn,iio,hid,input/joystick,input/touchscreen} \
	"$moddir"/drivers/net/{wireless,ethernet} "$moddir"/sound
chroot "$root" depmod "$kver"
: >"$root/etc/machine-id"

step partition
truncate -s $size "$work/disk.raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$work/disk.raw"
loop=$(losetup -f --show -P "$work/disk.raw")
# The host kernel may lack partition-table parsers; partx adds them by BLKPG.
[ -b "${loop}p1" ] || partx -a "$loop"
mkfs.ext4 -q -L $label "${loop}p1"
mkdir "$mnt"
mount "${loop}p1" "$mnt"
step copy
tar -C "$root" --numeric-owner --xattrs -cf - . | tar -C "$mnt" --numeric-owner --xattrs -xf -

step bootloader
mkdir -p "$mnt/boot/extlinux"
extlinux --install "$mnt/boot/extlinux" 2>/dev/null
cat >"$mnt/boot/extlinux/extlinux.conf" <<-EOF
	DEFAULT linux
	PROMPT 0
	TIMEOUT 0
	LABEL linux
	  LINUX /vmlinuz
	  INITRD /initrd.img
	  APPEND $cmdline
EOF
umount "$mnt"
dd if=/usr/lib/EXTLINUX/mbr.bin of="$loop" bs=440 count=1 conv=notrunc status=none
partx -d "$loop" 2>/dev/null || true
losetup -d "$loop"
loop=

for t in ed25519 ecdsa rsa; do
	cp "$root/etc/ssh/ssh_host_${t}_key.pub" "$out/"
done
mv "$work/disk.raw" "$out/disk.raw"
step done
