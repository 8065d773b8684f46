#!/bin/sh
# Shell baseline for bench/run: the selection today's initramfs scripts and
# wiki recipes do by hand, run with /bin/sh (dash).
#
# usage: baseline.sh [--read] ROOT plan|apply VENDOR:DEVICE ADDRESS
#
# Selects every PCI function whose vendor:device is VENDOR:DEVICE, plus the
# one at ADDRESS -- the same selection as the bench's vfio-bind.conf:
#     bind id=VENDOR:DEVICE
#     bind path=ADDRESS
#
# Scan, per device under ROOT/sys/bus/pci/devices/*: the `vendor` and
# `device` files (the files the selection needs, nothing more), compared to
# the ids; the address is the directory name.
#   default  vendor=$(cat "$dev/vendor")   -- the common wiki form: command
#            substitution runs cat, one fork+exec per file (2 per device)
#   --read   read -r vendor <"$dev/vendor" -- builtin, no fork (dash's read
#            reads one byte per read(2) call)
#
# plan   prints "ADDRESS ACTION DRIVER" per selected device; the driver name
#        comes from `drv=$(readlink $dev/driver)` (a fork per selected
#        device), or with --read from a glob over sys/bus/pci/drivers/*
#        looking for the device's link (builtins only: --read never forks).
# apply  per selected device, in this order, what the wiki scripts write:
#          echo vfio-pci > $dev/driver_override
#          echo $addr   > $dev/driver/unbind      (if bound)
#          echo $addr   > ROOT/sys/bus/pci/drivers_probe
#        echo and [ are dash builtins: no fork.
# Against a fake tree nothing reacts to the writes; the script does not
# check the result (today's scripts do not either).

mode_read=0
if [ "${1-}" = --read ]; then
	mode_read=1
	shift
fi
if [ $# -ne 4 ]; then
	echo "usage: baseline.sh [--read] ROOT plan|apply VENDOR:DEVICE ADDRESS" >&2
	exit 2
fi
root=$1 cmd=$2 id=$3 want_addr=$4
want_vendor=0x${id%%:*}
want_device=0x${id#*:}
case $cmd in plan | apply) ;; *) echo "baseline.sh: unknown command $cmd" >&2; exit 2 ;; esac

n=0
for dev in "$root"/sys/bus/pci/devices/*; do
	addr=${dev##*/}
	if [ $mode_read = 1 ]; then
		read -r vendor <"$dev/vendor"
		read -r device <"$dev/device"
	else
		vendor=$(cat "$dev/vendor")
		device=$(cat "$dev/device")
	fi
	if [ "$vendor" = "$want_vendor" ] && [ "$device" = "$want_device" ]; then
		:
	elif [ "$addr" = "$want_addr" ]; then
		:
	else
		continue
	fi
	n=$((n + 1))
	if [ "$cmd" = plan ]; then
		if [ ! -e "$dev/driver" ]; then
			printf '%s bind -\n' "$addr"
			continue
		fi
		if [ $mode_read = 1 ]; then
			# no readlink in dash: find the driver that lists the device
			for drv in "$root"/sys/bus/pci/drivers/*; do
				[ -e "$drv/$addr" ] && break
			done
		else
			drv=$(readlink "$dev/driver")
		fi
		printf '%s rebind %s\n' "$addr" "${drv##*/}"
	else
		echo vfio-pci >"$dev/driver_override"
		if [ -e "$dev/driver" ]; then
			echo "$addr" >"$dev/driver/unbind"
		fi
		echo "$addr" >"$root/sys/bus/pci/drivers_probe"
	fi
done
echo "$n device(s) selected" >&2
exit 0
