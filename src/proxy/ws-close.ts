/**
 * An unmasked WebSocket close frame from the server side, status 1001 (going away): what a
 * client gets when its machine is cordoned before it is stopped (RFC 6455 §5.5.1, §7.4.1).
 */
export const WS_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9])
