/** The guest RAM's memory-backend id: every roost VM names its RAM block the same, so any snapshot loads into any boot. */
export const GUEST_MEMORY_ID = 'roost-mem'

/**
 * Where a VM's RAM lives.
 * - `ram`: anonymous memory under the shared name (cold boots, resumes). A memfd was tried: a
 *   resumed guest then kept ~50 MB more resident (188 vs 138 MB) for ~4 MB less on a cold boot.
 * - `template`: a file mapped shared, so the guest's memory is in it when the template is snapshotted
 *   (the migration then skips RAM: `x-ignore-shared`).
 * - `clone`: the template's file mapped private: pages are read from the (shared) page cache and
 *   copied only when the clone writes them.
 */
export type GuestMemory =
  | { kind: 'ram' }
  | { kind: 'template', path: string }
  | { kind: 'clone', path: string }

/**
 * `-object memory-backend-* … -machine memory-backend=roost-mem`. Appended after buildQemuArgs'
 * words, so this `memory-backend` is the one QEMU uses (later -machine options win).
 */
export function guestMemoryArgs (memoryMb: number, mem: GuestMemory): string[] {
  const backend = mem.kind === 'ram'
    ? `memory-backend-ram,id=${GUEST_MEMORY_ID},size=${memoryMb}M`
    : `memory-backend-file,id=${GUEST_MEMORY_ID},size=${memoryMb}M,mem-path=${mem.path},share=${mem.kind === 'template' ? 'on' : 'off'}`
  return ['-object', backend, '-machine', `memory-backend=${GUEST_MEMORY_ID}`]
}

/**
 * The identity channel: a second UART (the guest's ttyS1, port 0x2f8, IRQ 3) on a unix socket.
 * Every roost VM has it, so a machine's devices are the same however it was started and its
 * suspend snapshot loads whichever way it next starts.
 */
export function identitySerialArgs (socketPath: string): string[] {
  return [
    '-chardev', `socket,id=roost-id,path=${socketPath},server=on,wait=off`,
    '-device', 'isa-serial,chardev=roost-id,iobase=0x2f8,irq=3'
  ]
}

/** The migration capability that leaves shared (file-backed) RAM out of a snapshot. */
export const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] }

/**
 * A template boots with user networking, whose (slirp) state is part of its snapshot. A clone on
 * a tap has no slirp of its own to load it into: this unconnected, restricted one takes it.
 */
export function templateSlirpArgs (): string[] {
  return ['-netdev', 'user,id=roost-tpl-slirp,restrict=on']
}
