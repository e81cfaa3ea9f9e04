import { readFile, statfs, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import test from 'ava'
import { cachedGuestKernel } from '../../src/doctor/accel-check.js'
import type { CheckResult, DoctorReport } from '../../src/doctor/doctor-check.js'
import { DISK_FAIL_BYTES, DISK_WARN_BYTES } from '../../src/doctor/disk-check.js'
import { silentLogger } from '../../src/log/logger.js'
import { wireguardAvailable } from '../../src/mesh/wg-command.js'
import { findStaticBusybox, kvmUsable, probeBoot } from '../../src/vmm/accel-probe.js'
import { defaultCacheDir } from '../../src/vmm/image/debian-packages.js'
import { qemuAvailable } from '../../src/vmm/qemu-driver.js'
import { localCluster, roost, tempDir } from '../helpers/cli.js'
import { isCI, requireParts } from '../helpers/requirements.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// Under CI the virtualization check must reach a verdict (KVM or TCG), so what it boots must be here.
const hostTest = await requireParts(test, isCI() ? ['qemu', 'busybox-static'] : [])

function check (report: DoctorReport, id: string): CheckResult {
  const c = report.checks.find(x => x.id === id)
  if (c === undefined) throw new Error(`no check ${id} in ${JSON.stringify(report)}`)
  return c
}

async function busyPort (): Promise<{ port: number, close: () => void }> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, close: () => { server.close() } }
}

hostTest.serial('roost doctor reports this host truthfully: the accelerator the probe itself finds, qemu, wireguard, a busy port with its holder, disk, no agent', async t => {
  t.timeout(120_000)
  // The doctor boots a probe VM: not beside another test's VMs.
  t.teardown(await acquireVmLock())
  const dataDir = await tempDir(t, 'roost-doctor-')
  const busy = await busyPort()
  t.teardown(busy.close)
  const r = await roost(['doctor', '--json', '--secret', 's', '--data-dir', dataDir, '--api', `127.0.0.1:${busy.port}`, '--backhaul-port', '0'], { timeoutMs: 90_000 })
  const report = JSON.parse(r.stdout) as DoctorReport
  t.log(report.checks.map(c => `${c.status.padEnd(7)} ${c.title}: ${c.detail}`).join('\n'))

  t.is(r.code, report.checks.some(c => c.status === 'fail') ? 1 : 0, 'exit code 1 exactly when a check failed')
  t.false(report.ok)
  t.is(check(report, 'config').status, 'ok')

  const qemu = await qemuAvailable()
  t.is(check(report, 'qemu').status, qemu.ok ? 'ok' : 'warn')

  // The truth about KVM, found here the way the agent finds it: by booting the probe.
  const kvm = check(report, 'kvm')
  const kernel = await cachedGuestKernel(defaultCacheDir())
  if (!qemu.ok) {
    t.is(kvm.status, 'unknown')
  } else if (!await kvmUsable()) {
    t.is(kvm.status, 'warn')
    t.regex(kvm.detail, /^TCG \(\/dev\/kvm is missing/)
  } else if (kernel === undefined || await findStaticBusybox() === null) {
    t.is(kvm.status, 'unknown')
  } else {
    const booted = await probeBoot({ qemuPath: qemu.path ?? 'qemu-system-x86_64', kernel, accel: 'kvm' }, { logger: silentLogger() })
    t.log(`the probe here: ${booted ? 'boots under KVM' : 'does not boot under KVM'} (${kernel})`)
    t.is(kvm.data?.kernel, kernel)
    if (booted) {
      t.is(kvm.status, 'ok')
      t.regex(kvm.detail, /^KVM \(/)
    } else {
      t.is(kvm.status, 'warn')
      t.regex(kvm.detail, /^TCG \(KVM present but can't boot a guest\)/)
    }
  }
  if (isCI()) t.not(kvm.status, 'unknown', 'under CI the probe runs')

  t.is(check(report, 'wireguard').status, wireguardAvailable().ok ? 'ok' : 'warn')
  const api = check(report, 'port.api')
  t.is(api.status, 'fail')
  t.regex(api.detail, new RegExp(`in use by node \\(pid ${process.pid}\\)`))
  t.regex(api.fix ?? '', /--api/)

  const clock = check(report, 'clock')
  if (clock.status === 'unknown') t.regex(clock.detail, /nothing here can tell/)
  else t.truthy(clock.data?.source, 'ok or not synced only when a tool said so')

  const disk = check(report, 'disk')
  const fs = await statfs(dataDir)
  const free = fs.bsize * fs.bavail
  t.is(disk.status, free < DISK_FAIL_BYTES ? 'fail' : free < DISK_WARN_BYTES ? 'warn' : 'ok')
  t.true(Math.abs(Number(disk.data?.freeBytes) - free) < 256 * 1024 * 1024)

  const agent = check(report, 'agent')
  t.is(agent.status, 'warn')
  t.regex(agent.detail, /not reachable/)
  t.truthy(agent.fix)
})

test('roost doctor finds a running agent on its control socket and counts the ports it holds as its own', async t => {
  const cluster = await localCluster(t, 1, { logLevel: 'info' })
  const host = cluster.hosts[0]
  if (host === undefined) throw new Error('no host')
  const info = JSON.parse(await readFile(join(host.dataDir, 'agent.json'), 'utf8')) as { api: string, pid: number }
  const api = new URL(info.api)
  const r = await roost(['doctor', '--json', '--secret', 's', '--driver', 'process', '--wireguard', 'off', '--data-dir', host.dataDir, '--api', `${api.hostname}:${api.port}`, '--backhaul-port', '0'])
  const report = JSON.parse(r.stdout) as DoctorReport
  t.is(check(report, 'agent').status, 'ok', check(report, 'agent').detail)
  t.regex(check(report, 'agent').detail, /running as h1/)
  t.is(check(report, 'port.api').status, 'ok')
  t.is(check(report, 'port.api').detail, `in use by the agent of this data dir (pid ${info.pid})`)
  t.is(check(report, 'kvm').detail, 'not used (--driver process)')
})

test('roost doctor fails the configuration check, naming the file and line, and exits 1', async t => {
  const dir = await tempDir(t, 'roost-doctor-config-')
  const file = join(dir, 'agent.toml')
  await writeFile(file, 'secret = "s"\ndriver = "process"\nwireguard = "off"\nbackhaul-port = 0\napi = "127.0.0.1:0"\ndata_dir = "/x"\n')
  const r = await roost(['doctor', '--config', file])
  t.is(r.code, 1)
  t.regex(r.stdout, /FAIL\s+configuration\s+.*agent\.toml:6: unknown key 'data_dir'/)
  t.regex(r.stdout, /to fix:/)
})
