import { createHash } from 'node:crypto'
import { chmod, copyFile, link, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Check } from '@sinclair/typebox/value'
import { Errors } from '@sinclair/typebox/errors'
import { ImageError } from '../../errors/errors.js'
import type { Logger } from '../../log/logger.js'
import { APP_ROOT } from './app-layer.js'
import { installDirAtomically, tempSibling } from './atomic-fs.js'
import { S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js'
import { ImageManifestSchema, type ImageManifest, type KernelKind } from './manifest.js'
import { readNames, updateNames } from './names-file.js'

/** An image in the store: its manifest and the absolute directory its paths are relative to. */
export type StoredImage = ImageManifest & { dir: string }

/** What `put` stores: the kernel file, the initrd layers (concatenated), the app's entries (unpacked as `app/`). */
export interface ImagePut {
  kernel: string
  initrdLayers: Buffer[]
  /** The app layer's entries (paths under `app/`), unpacked into the image's `app/` directory. */
  appEntries: CpioEntry[]
  kernelVersion: string
  /** Default: distribution. */
  kernelKind?: KernelKind
  modules: string[]
  name?: string
}

/** A content-addressed image store under one directory. */
export interface ImageStore {
  readonly dir: string
  /** Stores an image (atomically); an image with the same digest is reused. */
  put: (input: ImagePut) => Promise<StoredImage & { reused: boolean }>
  /** Finds an image by digest, `sha256:<digest>`, a unique prefix of ≥ 12 hex digits, or a name. */
  resolve: (ref: string) => Promise<StoredImage>
  /** Every image, newest first, with the names pointing at it; corrupt entries are skipped (and logged). */
  list: () => Promise<Array<StoredImage & { names: string[] }>>
  /** Deletes an image and the names pointing at it. */
  remove: (ref: string) => Promise<StoredImage>
}

const DIGEST_RE = /^[0-9a-f]{64}$/
const PREFIX_RE = /^[0-9a-f]{12,63}$/
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const MANIFEST = 'manifest.json'

/** Whether `name` can be an image name (a ref that is not a digest or a digest prefix). */
export function isValidImageName (name: string): boolean {
  return NAME_RE.test(name) && !DIGEST_RE.test(name)
}

/** Reads and validates `<dir>/manifest.json`; anything wrong is an ImageError naming the file. */
export async function readManifest (dir: string): Promise<StoredImage> {
  const file = join(dir, MANIFEST)
  let value: unknown
  try {
    value = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message
    throw new ImageError(`corrupt image ${file}: ${why}`, { path: file })
  }
  if (!Check(ImageManifestSchema, value)) {
    const first = Errors(ImageManifestSchema, value).First()
    throw new ImageError(`corrupt image ${file}: ${first === undefined ? 'invalid' : `${first.path || '/'} ${first.message}`}`, { path: file })
  }
  return { ...value, dir }
}

async function unpackEntries (entries: CpioEntry[], dest: string): Promise<void> {
  const dirModes: Array<[string, number]> = []
  for (const e of entries) {
    const rel = e.path.replace(/^\/+/, '')
    if (rel !== APP_ROOT && !rel.startsWith(`${APP_ROOT}/`)) continue
    const abs = join(dest, rel)
    const type = e.mode & 0o170000
    if (type === S_IFDIR) {
      await mkdir(abs, { recursive: true })
      dirModes.push([abs, e.mode & 0o7777])
    } else if (type === S_IFLNK) {
      await symlink((e.data ?? Buffer.alloc(0)).toString(), abs)
    } else if (type === S_IFREG) {
      await writeFile(abs, e.data ?? Buffer.alloc(0))
      await chmod(abs, e.mode & 0o7777)
    }
  }
  // Directory modes last, deepest first: a read-only directory must not stop its children being written.
  for (const [abs, mode] of dirModes.reverse()) await chmod(abs, mode)
}

async function isDir (path: string): Promise<boolean> {
  return await stat(path).then(s => s.isDirectory(), () => false)
}

/** Images share the cached kernel's blocks where the store and the cache are on one filesystem. */
async function linkOrCopy (from: string, to: string): Promise<void> {
  try {
    await link(from, to)
  } catch {
    await copyFile(from, to)
  }
}

/** Opens (lazily creating) the image store in `imagesDir`. */
export function createImageStore (init: { imagesDir: string }, components: { logger: Logger }): ImageStore {
  const dir = init.imagesDir
  const namesFile = join(dir, 'names.json')
  const log = components.logger

  const nameImage = async (name: string, digest: string): Promise<void> => {
    await updateNames(namesFile, names => ({ ...names, [name]: digest }))
  }

  const digestDirs = async (): Promise<string[]> => {
    const all = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[]
      throw err
    })
    return all.filter(n => DIGEST_RE.test(n))
  }

  const byDigest = async (digest: string, ref: string): Promise<StoredImage> => {
    const entry = join(dir, digest)
    if (!await isDir(entry)) throw new ImageError(`no image ${ref} in ${dir}`, { ref })
    const m = await readManifest(entry)
    if (m.digest !== digest) throw new ImageError(`corrupt image ${join(entry, MANIFEST)}: digest ${m.digest} does not match its directory`, { path: entry })
    return m
  }

  const resolve = async (ref: string): Promise<StoredImage> => {
    const r = ref.startsWith('sha256:') ? ref.slice('sha256:'.length) : ref
    if (DIGEST_RE.test(r)) return await byDigest(r, ref)
    const names = await readNames(namesFile)
    const named = Object.hasOwn(names, ref) ? names[ref] : undefined
    if (named !== undefined) {
      try {
        return await byDigest(named, ref)
      } catch (err) {
        throw new ImageError(`image name ${ref} points at ${named}, which is gone or unreadable: ${(err as Error).message}`, { ref })
      }
    }
    if (PREFIX_RE.test(r)) {
      const matches = (await digestDirs()).filter(d => d.startsWith(r))
      if (matches.length > 1) throw new ImageError(`image prefix ${ref} is ambiguous (${matches.length} images): give more digits`, { ref })
      const only = matches[0]
      if (only !== undefined) return await byDigest(only, ref)
    }
    throw new ImageError(`no image ${ref} in ${dir} (a digest, sha256:<digest>, a prefix of ≥ 12 hex digits, or a name)`, { ref })
  }

  return {
    dir,

    put: async (input) => {
      if (input.name !== undefined && !isValidImageName(input.name)) {
        throw new ImageError(`invalid image name '${input.name}': letters, digits, '.', '_', '-', at most 128, not a digest`)
      }
      const kernel = await readFile(input.kernel)
      const initrd = Buffer.concat(input.initrdLayers)
      const digest = createHash('sha256').update(kernel).update(initrd).digest('hex')
      const target = join(dir, digest)
      const manifest: ImageManifest = {
        schema: 1,
        digest,
        ...(input.name === undefined ? {} : { name: input.name }),
        kernel: input.kernelKind === 'minimal-pvh' ? 'vmlinux' : 'vmlinuz',
        initrd: 'initrd.img',
        app: APP_ROOT,
        kernelVersion: input.kernelVersion,
        kernelKind: input.kernelKind ?? 'distribution',
        modules: input.modules,
        createdAt: new Date().toISOString(),
        sizeBytes: kernel.length + initrd.length
      }
      let reused = await isDir(target)
      if (reused) {
        // Content-addressed: a damaged entry can be replaced by the bytes being stored now.
        const damaged = await byDigest(digest, digest).then(() => false, (err: unknown) => {
          log.warn({ err: (err as Error).message, digest }, 'replacing a damaged image')
          return true
        })
        if (damaged) {
          const trash = tempSibling(target)
          await rename(target, trash)
          await rm(trash, { recursive: true, force: true })
          reused = false
        }
      }
      if (!reused) {
        const outcome = await installDirAtomically(target, async (tmp) => {
          await linkOrCopy(input.kernel, join(tmp, manifest.kernel))
          await writeFile(join(tmp, manifest.initrd), initrd)
          await unpackEntries(input.appEntries, tmp)
          await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n')
        })
        reused = outcome === 'existing'
      }
      const stored = reused ? await byDigest(digest, digest) : { ...manifest, dir: target }
      if (input.name !== undefined) await nameImage(input.name, digest)
      log.debug({ digest, reused, name: input.name }, 'image stored')
      // A reused image keeps the manifest it was first stored with; the caller still sees the name it just gave.
      return { ...stored, ...(input.name === undefined ? {} : { name: input.name }), reused }
    },

    resolve,

    list: async () => {
      const names = await readNames(namesFile)
      const out: Array<StoredImage & { names: string[] }> = []
      for (const digest of await digestDirs()) {
        try {
          const m = await byDigest(digest, digest)
          out.push({ ...m, names: Object.keys(names).filter(n => names[n] === digest).sort() })
        } catch (err) {
          log.warn({ err: (err as Error).message, digest }, 'skipping a corrupt image')
        }
      }
      return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
    },

    remove: async (ref) => {
      const image = await resolve(ref)
      await updateNames(namesFile, names => Object.fromEntries(Object.entries(names).filter(([, d]) => d !== image.digest)))
      const trash = tempSibling(image.dir)
      await rename(image.dir, trash)
      await rm(trash, { recursive: true, force: true })
      return image
    }
  }
}
