import { createHash, randomBytes } from 'node:crypto'
import { GUEST_ENV_FILE } from './image/manifest.js'
import { createCpioGz, S_IFDIR, S_IFREG, shellEnvFile } from './image/cpio.js'

/**
 * The guest side of warm clones. A snapshot template boots with one more initrd layer holding
 * {@link CLONE_SCRIPT_PATH}; the image's /init sources it (a small hook in guest-init.ts) after
 * loading its modules and before reading its settings. The script blocks on the second serial
 * port (ttyS1, the identity channel) until the host sends the machine's settings, so every VM
 * restored from the template's memory waits there too, and each gets its own identity before
 * its network and app start.
 *
 * Wire format on ttyS1 (raw, no echo):
 * - guest → host `roost-clone-ready` when it starts waiting (the host snapshots then);
 * - host → guest the env file, repeated until acknowledged. Printable ASCII (the usual case) goes
 *   as is, read with shell builtins only (an exec in a fresh clone costs ~120 ms under TCG):
 *   `roost-identity-raw:<nonce>:<lines>:<bytes>`, the file's lines, `roost-identity-end:<nonce>`.
 *   Anything else goes base64'd on one line, `roost-identity:<base64>:<its length>:end`. The
 *   counts (and, in base64, the file's last line) catch bytes lost on the way;
 * - guest → host `roost-identity-ok` once the env file is in place (or `roost-identity-bad`).
 */
export const CLONE_SCRIPT_PATH = 'etc/roost/clone.sh'
export const CLONE_READY = 'roost-clone-ready'
export const IDENTITY_OK = 'roost-identity-ok'
export const IDENTITY_BAD = 'roost-identity-bad'
const IDENTITY_PREFIX = 'roost-identity:'
const RAW_PREFIX = 'roost-identity-raw:'
const RAW_END = 'roost-identity-end:'
const IDENTITY_SUFFIX = ':end'
/** The env file's last line: its presence proves the line arrived whole. */
const IDENTITY_END = '# roost-identity-end'

/**
 * Sourced by /init (busybox sh). Besides writing the env file it sets the clock (the snapshot's
 * clock is stale), mixes host randomness into the kernel's pool (every clone starts with the
 * same pool) and sets the NIC's MAC (a namespace clone's tap expects its own).
 */
export const CLONE_SCRIPT = `# roost warm-clone template (src/vmm/clone-guest.ts): wait on ttyS1 for this VM's identity.
roost_clone_identity () {
  t=/dev/ttyS1
  if [ ! -c $t ]; then echo "roost-init: clone: no $t: booting without an identity"; return 0; fi
  # 115200 baud: the UART's receive timeout is 4 character times (~4 ms at the default 9600).
  stty -F $t raw -echo 115200 2>/dev/null || echo "roost-init: clone: stty $t failed"
  exec 3<>$t
  echo "${CLONE_READY}" >&3
  # Few processes from here on: under TCG every exec in a fresh clone is slow (no translated code yet).
  while IFS= read -r line <&3; do
    case "$line" in
      ${RAW_PREFIX}*)
        h="\${line#${RAW_PREFIX}}"
        nonce="\${h%%:*}"
        h="\${h#*:}"
        nl="\${h%%:*}"
        nb="\${h#*:}"
        : >${GUEST_ENV_FILE}
        c=0
        k=0
        while IFS= read -r l <&3; do
          [ "$l" = "${RAW_END}$nonce" ] && break
          printf '%s\\n' "$l" >>${GUEST_ENV_FILE}
          c=$((c + \${#l} + 1))
          k=$((k + 1))
        done
        if [ "$k" = "$nl" ] && [ "$c" = "$nb" ]; then
          echo "${IDENTITY_OK}" >&3
          break
        fi
        echo "${IDENTITY_BAD}" >&3
        ;;
      ${IDENTITY_PREFIX}*${IDENTITY_SUFFIX}*)
        b="\${line#${IDENTITY_PREFIX}}"
        b="\${b%%${IDENTITY_SUFFIX}*}"
        n="\${b##*:}"
        b="\${b%:*}"
        last=
        [ "\${#b}" = "$n" ] && base64 -d >${GUEST_ENV_FILE} 2>/dev/null <<ROOST_EOF
$b
ROOST_EOF
        while IFS= read -r l; do last="$l"; done <${GUEST_ENV_FILE}
        if [ "$last" = "${IDENTITY_END}" ]; then
          echo "${IDENTITY_OK}" >&3
          break
        fi
        echo "${IDENTITY_BAD}" >&3
        ;;
    esac
  done
  exec 3<&-
  . ${GUEST_ENV_FILE}
  [ -z "$ROOST_CLONE_SEED" ] || echo "$ROOST_CLONE_SEED" >/dev/urandom
  [ -z "$ROOST_CLONE_NOW" ] || date -s "@$ROOST_CLONE_NOW" >/dev/null 2>&1 || echo "roost-init: clone: could not set the clock"
  unset ROOST_CLONE_SEED ROOST_CLONE_NOW
  if [ -n "$ROOST_MAC" ]; then
    n=0
    while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 200 ]; do usleep 10000; n=$((n + 1)); done
    ip link set eth0 address "$ROOST_MAC" || echo "roost-init: clone: could not set the MAC $ROOST_MAC"
  fi
}
roost_clone_identity
`

/** The template's extra initrd layer: the clone script. */
export function cloneTemplateLayer (): Buffer {
  return createCpioGz([
    { path: 'etc', mode: S_IFDIR | 0o755 },
    { path: 'etc/roost', mode: S_IFDIR | 0o755 },
    { path: CLONE_SCRIPT_PATH, mode: S_IFREG | 0o644, data: Buffer.from(CLONE_SCRIPT) }
  ])
}

/** Changes whenever the guest side of cloning does (part of the snapshot cache key). */
export function cloneGuestVersion (): string {
  return createHash('sha256').update(CLONE_SCRIPT).digest('hex').slice(0, 16)
}

/** The identity message for one clone: its env file, as is when it is printable ASCII, else base64'd (see the wire format above). */
export function identityLine (env: Record<string, string>): string {
  const text = shellEnvFile(env)
  if (/^[\x20-\x7e\n]*$/.test(text)) {
    const nonce = randomBytes(4).toString('hex')
    const lines = text.split('\n').length - 1
    return `${RAW_PREFIX}${nonce}:${lines}:${text.length}\n${text}${RAW_END}${nonce}\n`
  }
  const file = text + IDENTITY_END + '\n'
  const b64 = Buffer.from(file).toString('base64')
  return `${IDENTITY_PREFIX}${b64}:${b64.length}${IDENTITY_SUFFIX}\n`
}

/** Decodes an identity message back to the env file text (null if it is not a whole one): the inverse of {@link identityLine}, for tests. */
export function parseIdentityLine (line: string): string | null {
  const raw = /^roost-identity-raw:([0-9a-f]+):(\d+):(\d+)\n([\s\S]*?)roost-identity-end:\1\n?$/.exec(line)
  if (raw !== null) {
    const text = raw[4] ?? ''
    return text.split('\n').length - 1 === Number(raw[2]) && text.length === Number(raw[3]) ? text : null
  }
  const m = /^roost-identity:([A-Za-z0-9+/=]*):(\d+):end\n?$/.exec(line)
  if (m?.[1] === undefined || m[1].length !== Number(m[2])) return null
  const text = Buffer.from(m[1], 'base64').toString()
  return text.endsWith(`${IDENTITY_END}\n`) ? text.slice(0, -(IDENTITY_END.length + 1)) : null
}
