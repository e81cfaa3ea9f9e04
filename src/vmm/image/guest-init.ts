import { EXIT_MARKER, GUEST_ENV_FILE } from './manifest.js'

/** Where init records the app's pid (= its process group) for the power-button handler. */
export const APP_PID_FILE = '/run/roost-app.pid'

/** busybox acpid runs `<confdir>/PWRF/00000080` when the ACPI power button is pressed. */
export const POWER_HANDLER_PATH = 'etc/acpi/PWRF/00000080'

/** What init mounts (`mount -a`) once /dev is up. */
export const GUEST_FSTAB = `proc /proc proc nosuid,nodev,noexec 0 0
sysfs /sys sysfs nosuid,nodev,noexec 0 0
tmpfs /tmp tmpfs nosuid,nodev,mode=1777 0 0
tmpfs /run tmpfs nosuid,nodev,mode=0755 0 0
tmpfs /dev/shm tmpfs nosuid,nodev,mode=1777 0 0
devpts /dev/pts devpts nosuid,noexec 0 0
`

/**
 * The guest's /init (busybox sh, PID 1), implementing the contract in manifest.ts. Every step
 * that fails says so on the console (`roost-init: …`) and carries on where that makes sense, so
 * a console log shows why a guest is unreachable.
 */
export function renderInitScript (modules: readonly string[]): string {
  return `#!/bin/busybox sh
# roost guest init (PID 1); the contract is in src/vmm/image/manifest.ts.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say () { echo "roost-init: $*"; }
halt_now () {
  poweroff -f
  echo o >/proc/sysrq-trigger
  while :; do sleep 3600; done
}

mount -t devtmpfs -o nosuid devtmpfs /dev || echo "roost-init: mount /dev failed" >/dev/console
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/shm /dev/pts
# One mount process for all of /etc/fstab: every fork is slow under TCG.
mount -a || say "mount -a: some of /etc/fstab did not mount"
ln -sf /proc/self/fd /dev/fd

for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m.ko || say "insmod $m failed"
done

# --- warm clones (src/vmm/clone-guest.ts): a snapshot template waits here for its identity ---
[ ! -f /etc/roost/clone.sh ] || . /etc/roost/clone.sh
# --- end warm clones ---

if [ -f ${GUEST_ENV_FILE} ]; then
  . ${GUEST_ENV_FILE} || say "${GUEST_ENV_FILE} has errors"
else
  say "${GUEST_ENV_FILE} is missing: no machine settings"
fi
export PORT="\${PORT:-8080}"
echo "\${ROOST_MACHINE_ID:-roost}" >/proc/sys/kernel/hostname 2>/dev/null || hostname roost

ip link set lo up || say "lo: could not bring it up"
if [ -n "$ROOST_IP" ]; then
  n=0
  while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 200 ]; do usleep 10000; n=$((n + 1)); done
  if [ ! -e /sys/class/net/eth0 ]; then
    say "eth0: no such device (virtio_net not loaded, or no NIC)"
  elif ip link set eth0 up && ip addr add "$ROOST_IP" dev eth0; then
    [ -z "$ROOST_GW" ] || ip route add default via "$ROOST_GW" || say "eth0: no default route via $ROOST_GW"
  else
    say "eth0: could not set $ROOST_IP"
  fi
else
  say "no ROOST_IP: eth0 left down"
fi
[ -z "$ROOST_DNS" ] || echo "nameserver $ROOST_DNS" >/etc/resolv.conf

if [ -e /dev/input/event0 ]; then
  acpid -f -c /etc/acpi -l /run/acpid.log &
else
  say "no input device: the ACPI power button will not reach the app"
fi

if [ ! -x /app/run ]; then
  say "/app/run is missing or not executable"
  printf '\\n${EXIT_MARKER}127\\n'
  halt_now
fi
cd /app || say "cd /app failed"
setsid /app/run &
app=$!
echo "$app" >${APP_PID_FILE}
wait "$app"
code=$?
printf '\\n${EXIT_MARKER}%d\\n' "$code"
halt_now
`
}

/**
 * The power-button handler: SIGTERM to the app's process group, SIGKILL after
 * ROOST_KILL_TIMEOUT seconds; init (blocked in `wait`) then writes the marker and powers off.
 * If init cannot, the handler does, after a grace period.
 */
export const POWER_HANDLER_SCRIPT = `#!/bin/sh
exec </dev/null >/dev/console 2>&1
[ ! -f ${GUEST_ENV_FILE} ] || . ${GUEST_ENV_FILE}
t="\${ROOST_KILL_TIMEOUT:-5}"
case "$t" in ''|*[!0-9]*) t=5 ;; esac
pid=$(cat ${APP_PID_FILE} 2>/dev/null)
if [ -z "$pid" ]; then
  echo "roost-init: power button before the app started: powering off"
  poweroff -f
  exit 0
fi
echo "roost-init: power button: stopping the app (SIGTERM, SIGKILL after \${t}s)"
kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
n=$((t * 20))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$n" -le 0 ]; then
    echo "roost-init: the app is still running after \${t}s: SIGKILL"
    kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    break
  fi
  usleep 50000
  n=$((n - 1))
done
sleep 3
echo "roost-init: init did not power off after the app ended: powering off"
printf '\\n${EXIT_MARKER}137\\n'
poweroff -f
`
