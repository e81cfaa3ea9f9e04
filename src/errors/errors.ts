import { RejectionError, RoostError, registerErrorCode } from './roost-error.js'

type Details = Record<string, unknown> | undefined

/** Makes (and registers) an error class with a stable `code`; the base decides crash vs rejection. */
export function defineError<C extends string> (code: C, base: typeof RoostError = RoostError) {
  const cls = class extends base {
    static readonly code: C = code
    constructor (message: string, details?: Details) {
      super(code, message, details)
    }
  }
  registerErrorCode(code, cls)
  return cls
}

/** A frame could not be decoded as msgpack, or its envelope is not one. */
export class MalformedFrameError extends defineError('ERR_MALFORMED_FRAME') {}
/** A frame's declared length is over the configured maximum. */
export class FrameTooLargeError extends defineError('ERR_FRAME_TOO_LARGE') {}
/** The envelope's protocol version is not one this host speaks. */
export class UnsupportedVersionError extends defineError('ERR_UNSUPPORTED_VERSION') {}
/** The target actor does not declare this message type. */
export class UnknownMessageTypeError extends defineError('ERR_UNKNOWN_MESSAGE_TYPE', RejectionError) {}
/** The message body does not match the schema declared for its type. */
export class InvalidMessageError extends defineError('ERR_INVALID_MESSAGE', RejectionError) {}
/** No actor lives at the target path. */
export class ActorNotFoundError extends defineError('ERR_ACTOR_NOT_FOUND', RejectionError) {}
/** An actor crashed while handling the message that was asked. */
export class ActorCrashedError extends defineError('ERR_ACTOR_CRASHED') {}
/** An actor was stopped before it answered. */
export class ActorStoppedError extends defineError('ERR_ACTOR_STOPPED') {}
/** No reply arrived within the ask's timeout. */
export class AskTimeoutError extends defineError('ERR_ASK_TIMEOUT') {}
/** The host a message is for cannot be reached, or went away with the message in flight. */
export class HostUnreachableError extends defineError('ERR_HOST_UNREACHABLE') {}
/** No host of that id or name is known. */
export class UnknownHostError extends defineError('ERR_UNKNOWN_HOST', RejectionError) {}
/** The peer failed the hello: wrong cluster, wrong secret, or a malformed hello. */
export class AdmissionError extends defineError('ERR_ADMISSION') {}
/** A control-socket or CLI argument is unusable. */
export class InvalidArgumentError extends defineError('ERR_INVALID_ARGUMENT', RejectionError) {}
/** Something that must be started first was not. */
export class NotStartedError extends defineError('ERR_NOT_STARTED') {}
/** The local agent could not be reached over its control socket. */
export class AgentUnavailableError extends defineError('ERR_AGENT_UNAVAILABLE') {}
/** Configuration is missing or unusable. */
export class ConfigError extends defineError('ERR_CONFIG') {}
/** No machine of that id exists (in that app) on the cluster as this host sees it. */
export class MachineNotFoundError extends defineError('ERR_MACHINE_NOT_FOUND', RejectionError) {}
/** The requested lifecycle action is not allowed from the machine's current state; nothing changed. */
export class IllegalTransitionError extends defineError('ERR_ILLEGAL_TRANSITION', RejectionError) {}
/** A wait for a machine state did not see it within its timeout. */
export class WaitTimeoutError extends defineError('ERR_WAIT_TIMEOUT', RejectionError) {}
/** An image could not be built, found or read (bad path, missing kernel, corrupt store entry). */
export class ImageError extends defineError('ERR_IMAGE', RejectionError) {}
/** The VM monitor (QEMU, QMP, the process driver) failed to do what was asked. */
export class VmmError extends defineError('ERR_VMM') {}
/** An API request carried no valid bearer token. */
export class UnauthorizedError extends defineError('ERR_UNAUTHORIZED', RejectionError) {}

// `define` registers its anonymous base class; register the exported subclasses over it so an
// error rebuilt from the wire (errorFromWire) is an instance of the class callers check against.
for (const cls of [
  MalformedFrameError, FrameTooLargeError, UnsupportedVersionError, UnknownMessageTypeError, InvalidMessageError,
  ActorNotFoundError, ActorCrashedError, ActorStoppedError, AskTimeoutError, HostUnreachableError, UnknownHostError,
  AdmissionError, InvalidArgumentError, NotStartedError, AgentUnavailableError, ConfigError,
  MachineNotFoundError, IllegalTransitionError, WaitTimeoutError, ImageError, VmmError, UnauthorizedError
]) registerErrorCode(cls.code, cls)
/** WireGuard (wireguard-go, `wg`) or mesh addressing failed: a bad key, a failed command, a dead interface. */
export class MeshError extends defineError('ERR_MESH') {}

/** A network-namespace lab (src/lab) could not be built, changed or torn down. */
export class LabError extends defineError('ERR_LAB') {}
/** The lab was asked for something this machine cannot do (not root, no netem qdisc, no nft). */
export class LabUnsupportedError extends defineError('ERR_LAB_UNSUPPORTED') {}
