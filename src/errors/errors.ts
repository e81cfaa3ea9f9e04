import { RejectionError, RoostError, registerErrorCode } from './roost-error.js'

type Details = Record<string, unknown> | undefined

/**
 * Makes an error class with a stable `code` and registers that very class for decoding, so an
 * error rebuilt from the wire (`errorFromWire`) is an instance of the class callers check
 * against. The base decides crash (`RoostError`) vs rejection (`RejectionError`); `stackless` (the
 * base's by default) is for errors about another party's input. Declare one as
 * `export const XError = defineError('XError', 'ERR_X')` plus
 * `export type XError = InstanceType<typeof XError>`; a subclass of the returned class would not
 * be the registered one (test/errors/wire-round-trip.test.ts checks every export).
 */
export function defineError<C extends string> (name: string, code: C, base: typeof RoostError = RoostError, opts: { stackless?: boolean } = {}) {
  const stackless = opts.stackless ?? base.stackless
  const cls = class extends base {
    static readonly code: C = code
    static override readonly stackless: boolean = stackless
    constructor (message: string, details?: Details) {
      super(code, message, details)
    }
  }
  Object.defineProperty(cls, 'name', { value: name })
  registerErrorCode(code, cls)
  return cls
}

/** A frame could not be decoded as msgpack, or its envelope is not one. */
export const MalformedFrameError = defineError('MalformedFrameError', 'ERR_MALFORMED_FRAME', RoostError, { stackless: true })
export type MalformedFrameError = InstanceType<typeof MalformedFrameError>
/** A compact envelope names a template its sender never defined to this host (this host restarted since): the sender starts its templates afresh. */
export const UnknownTemplateError = defineError('UnknownTemplateError', 'ERR_UNKNOWN_TEMPLATE', RoostError, { stackless: true })
export type UnknownTemplateError = InstanceType<typeof UnknownTemplateError>
/** A frame's declared length is over the configured maximum. */
export const FrameTooLargeError = defineError('FrameTooLargeError', 'ERR_FRAME_TOO_LARGE', RoostError, { stackless: true })
export type FrameTooLargeError = InstanceType<typeof FrameTooLargeError>
/** A value cannot be encoded as a roost message: it is cyclic, nested too deeply, or of a type msgpack does not carry. */
export const UnencodableValueError = defineError('UnencodableValueError', 'ERR_UNENCODABLE_VALUE', RejectionError)
export type UnencodableValueError = InstanceType<typeof UnencodableValueError>
/** A peer's session went over one of its memory budgets (frames held for reordering, or sent and not acknowledged). */
export const SessionBudgetError = defineError('SessionBudgetError', 'ERR_SESSION_BUDGET', RoostError, { stackless: true })
export type SessionBudgetError = InstanceType<typeof SessionBudgetError>
/** The envelope's protocol version is not one this host speaks. */
export const UnsupportedVersionError = defineError('UnsupportedVersionError', 'ERR_UNSUPPORTED_VERSION', RoostError, { stackless: true })
export type UnsupportedVersionError = InstanceType<typeof UnsupportedVersionError>
/** The target actor does not declare this message type. */
export const UnknownMessageTypeError = defineError('UnknownMessageTypeError', 'ERR_UNKNOWN_MESSAGE_TYPE', RejectionError)
export type UnknownMessageTypeError = InstanceType<typeof UnknownMessageTypeError>
/** The message body does not match the schema declared for its type. */
export const InvalidMessageError = defineError('InvalidMessageError', 'ERR_INVALID_MESSAGE', RejectionError)
export type InvalidMessageError = InstanceType<typeof InvalidMessageError>
/** No actor lives at the target path. */
export const ActorNotFoundError = defineError('ActorNotFoundError', 'ERR_ACTOR_NOT_FOUND', RejectionError)
export type ActorNotFoundError = InstanceType<typeof ActorNotFoundError>
/** An actor crashed while handling the message that was asked. */
export const ActorCrashedError = defineError('ActorCrashedError', 'ERR_ACTOR_CRASHED')
export type ActorCrashedError = InstanceType<typeof ActorCrashedError>
/** An actor was stopped before it answered. */
export const ActorStoppedError = defineError('ActorStoppedError', 'ERR_ACTOR_STOPPED')
export type ActorStoppedError = InstanceType<typeof ActorStoppedError>
/** No reply arrived within the ask's timeout. */
export const AskTimeoutError = defineError('AskTimeoutError', 'ERR_ASK_TIMEOUT')
export type AskTimeoutError = InstanceType<typeof AskTimeoutError>
/** The host a message is for cannot be reached, or went away with the message in flight. */
export const HostUnreachableError = defineError('HostUnreachableError', 'ERR_HOST_UNREACHABLE')
export type HostUnreachableError = InstanceType<typeof HostUnreachableError>
/** No host of that id or name is known. */
export const UnknownHostError = defineError('UnknownHostError', 'ERR_UNKNOWN_HOST', RejectionError)
export type UnknownHostError = InstanceType<typeof UnknownHostError>
/** The peer failed the hello: wrong cluster, wrong secret, or a malformed hello. */
export const AdmissionError = defineError('AdmissionError', 'ERR_ADMISSION', RoostError, { stackless: true })
export type AdmissionError = InstanceType<typeof AdmissionError>
/** A control-socket or CLI argument is unusable. */
export const InvalidArgumentError = defineError('InvalidArgumentError', 'ERR_INVALID_ARGUMENT', RejectionError)
export type InvalidArgumentError = InstanceType<typeof InvalidArgumentError>
/** Something that must be started first was not. */
export const NotStartedError = defineError('NotStartedError', 'ERR_NOT_STARTED')
export type NotStartedError = InstanceType<typeof NotStartedError>
/** The transport's own thread failed to start or died. */
export const TransportError = defineError('TransportError', 'ERR_TRANSPORT')
export type TransportError = InstanceType<typeof TransportError>
/** The local agent could not be reached over its control socket. */
export const AgentUnavailableError = defineError('AgentUnavailableError', 'ERR_AGENT_UNAVAILABLE')
export type AgentUnavailableError = InstanceType<typeof AgentUnavailableError>
/** Configuration is missing or unusable. */
export const ConfigError = defineError('ConfigError', 'ERR_CONFIG')
export type ConfigError = InstanceType<typeof ConfigError>
/** No machine of that id exists (in that app) on the cluster as this host sees it. */
export const MachineNotFoundError = defineError('MachineNotFoundError', 'ERR_MACHINE_NOT_FOUND', RejectionError)
export type MachineNotFoundError = InstanceType<typeof MachineNotFoundError>
/** The requested lifecycle action is not allowed from the machine's current state; nothing changed. */
export const IllegalTransitionError = defineError('IllegalTransitionError', 'ERR_ILLEGAL_TRANSITION', RejectionError)
export type IllegalTransitionError = InstanceType<typeof IllegalTransitionError>
/** A wait for a machine state did not see it within its timeout. */
export const WaitTimeoutError = defineError('WaitTimeoutError', 'ERR_WAIT_TIMEOUT', RejectionError)
export type WaitTimeoutError = InstanceType<typeof WaitTimeoutError>
/** An image could not be built, found or read (bad path, missing kernel, corrupt store entry). */
export const ImageError = defineError('ImageError', 'ERR_IMAGE', RejectionError)
export type ImageError = InstanceType<typeof ImageError>
/** The VM monitor (QEMU, QMP, the process driver) failed to do what was asked. */
export const VmmError = defineError('VmmError', 'ERR_VMM')
export type VmmError = InstanceType<typeof VmmError>
/** An API request carried no valid bearer token. */
export const UnauthorizedError = defineError('UnauthorizedError', 'ERR_UNAUTHORIZED', RejectionError)
export type UnauthorizedError = InstanceType<typeof UnauthorizedError>

/** WireGuard (wireguard-go, `wg`) or mesh addressing failed: a bad key, a failed command, a dead interface. */
export const MeshError = defineError('MeshError', 'ERR_MESH')
export type MeshError = InstanceType<typeof MeshError>

/** A network-namespace lab (src/lab) could not be built, changed or torn down. */
export const LabError = defineError('LabError', 'ERR_LAB')
export type LabError = InstanceType<typeof LabError>
/** The lab was asked for something this machine cannot do (not root, no netem qdisc, no nft). */
export const LabUnsupportedError = defineError('LabUnsupportedError', 'ERR_LAB_UNSUPPORTED')
export type LabUnsupportedError = InstanceType<typeof LabUnsupportedError>

/** A message came from a sender its type does not allow (see `SenderRule`); the handler did not run. */
export const SenderNotAllowedError = defineError('SenderNotAllowedError', 'ERR_SENDER_NOT_ALLOWED', RejectionError)
export type SenderNotAllowedError = InstanceType<typeof SenderNotAllowedError>

/** The control socket was asked for something other than one of the listed API calls. */
export const ControlCallRefusedError = defineError('ControlCallRefusedError', 'ERR_CONTROL_CALL_REFUSED', RejectionError)
export type ControlCallRefusedError = InstanceType<typeof ControlCallRefusedError>

/** A control-socket connection (or all of them together) held more unread frame bytes than its budget. */
export const ControlBudgetError = defineError('ControlBudgetError', 'ERR_CONTROL_BUDGET', RoostError, { stackless: true })
export type ControlBudgetError = InstanceType<typeof ControlBudgetError>

/** A replicated row is malformed, outside its table's closed schema, or claims what its writer may not write. */
export const InvalidRowError = defineError('InvalidRowError', 'ERR_INVALID_ROW', RejectionError)
export type InvalidRowError = InstanceType<typeof InvalidRowError>
/** A replicated row's signature is not its owner's (forged, tampered with, or unsigned). */
export const RowSignatureError = defineError('RowSignatureError', 'ERR_ROW_SIGNATURE', RejectionError)
export type RowSignatureError = InstanceType<typeof RowSignatureError>
/** A replicated row could not be stored (its data cannot be encoded); the rest of its batch was. */
export const RowNotStorableError = defineError('RowNotStorableError', 'ERR_ROW_NOT_STORABLE', RejectionError)
export type RowNotStorableError = InstanceType<typeof RowNotStorableError>

/** A server-sent event stream's client left more unread bytes queued than its budget; it was dropped. */
export const StreamBudgetError = defineError('StreamBudgetError', 'ERR_STREAM_BUDGET', RoostError, { stackless: true })
export type StreamBudgetError = InstanceType<typeof StreamBudgetError>
