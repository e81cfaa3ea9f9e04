import { readFile } from 'node:fs/promises'

/** Xen's ELF note type for the 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY). */
const XEN_ELFNOTE_PHYS32_ENTRY = 18
const PT_NOTE = 4

/**
 * The PVH entry point a kernel ELF advertises (the note QEMU looks for to boot an uncompressed
 * vmlinux directly), or null when `image` is not a 64-bit little-endian ELF with that note.
 */
export function pvhEntryOf (image: Buffer): number | null {
  if (image.length < 64 || image.readUInt32BE(0) !== 0x7f454c46 || image[4] !== 2 || image[5] !== 1) return null
  const phoff = Number(image.readBigUInt64LE(32))
  const phentsize = image.readUInt16LE(54)
  const phnum = image.readUInt16LE(56)
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize
    if (ph + 56 > image.length || image.readUInt32LE(ph) !== PT_NOTE) continue
    const start = Number(image.readBigUInt64LE(ph + 8))
    const end = Math.min(image.length, start + Number(image.readBigUInt64LE(ph + 32)))
    let at = start
    while (at + 12 <= end) {
      const namesz = image.readUInt32LE(at)
      const descsz = image.readUInt32LE(at + 4)
      const type = image.readUInt32LE(at + 8)
      const name = at + 12
      const desc = name + Math.ceil(namesz / 4) * 4
      if (type === XEN_ELFNOTE_PHYS32_ENTRY && image.toString('latin1', name, name + namesz).replace(/\0+$/, '') === 'Xen' && desc + descsz <= end) {
        return descsz >= 8 ? Number(image.readBigUInt64LE(desc)) : image.readUInt32LE(desc)
      }
      at = desc + Math.ceil(descsz / 4) * 4
    }
  }
  return null
}

/** pvhEntryOf for a file (a vmlinux is a few MB: read whole). */
export async function pvhEntryOfFile (path: string): Promise<number | null> {
  return pvhEntryOf(await readFile(path))
}
