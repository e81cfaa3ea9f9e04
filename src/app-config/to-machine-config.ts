import type { MachineConfig } from '../api/machines/schemas.js'
import type { AppSpec } from './app-spec.js'

/**
 * The machine configuration an app's machines run with (the Machines API's MachineConfig):
 * the image, env, guest size, the services' guest and public ports, every check (the
 * services' checks included) and the restart policy. Keys roost.toml leaves empty are absent,
 * so equal specs give equal configs.
 */
export function toMachineConfig (spec: AppSpec, imageDigest: string): MachineConfig {
  const config: MachineConfig = { image: imageDigest }
  if (Object.keys(spec.env).length > 0) config.env = { ...spec.env }
  if (spec.vm.cpus !== undefined || spec.vm.memoryMb !== undefined) {
    config.guest = {
      ...(spec.vm.cpus === undefined ? {} : { cpus: spec.vm.cpus }),
      ...(spec.vm.memoryMb === undefined ? {} : { memory_mb: spec.vm.memoryMb })
    }
  }
  if (spec.services.length > 0) {
    config.services = spec.services.map(s => ({
      protocol: 'tcp' as const,
      internal_port: s.internalPort,
      ports: s.ports.map(p => ({ port: p.port, handlers: [...p.handlers] }))
    }))
  }
  if (Object.keys(spec.checks).length > 0) config.checks = Object.fromEntries(Object.entries(spec.checks).map(([k, v]) => [k, { ...v }]))
  if (spec.restart !== undefined) config.restart = { ...spec.restart }
  if (spec.failover !== undefined) config.failover = spec.failover
  return config
}
