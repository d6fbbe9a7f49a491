/**
 * Hosts as they stand in addresses and URLs, for every capability: an IPv6 address goes in brackets before
 * `:port`, and the loopback interface is spelled one way (127.0.0.0/8, ::1, localhost).
 */

/** The host as it stands before `:port` or in a URL: an IPv6 address (it holds a colon) in brackets. */
export const bracketHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** `host:port`, with an IPv6 host in brackets. */
export const hostPort = (host: string, port: number): string => `${bracketHost(host)}:${port}`;

const LOOPBACK_V4 = '127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}';
const LOOPBACK_HOST = new RegExp(`^(?:${LOOPBACK_V4}|::1|localhost)$`, 'i');
const LOOPBACK_HOST_HEADER = new RegExp(`^(?:${LOOPBACK_V4}|\\[::1\\]|localhost)(?::\\d{1,5})?$`, 'i');

/** Whether `host` (an address without brackets, or a name) is the loopback interface. */
export const isLoopbackHost = (host: string): boolean => LOOPBACK_HOST.test(host);

/** Whether an HTTP Host header names the loopback interface, with or without a port. */
export const isLoopbackHostHeader = (value: string): boolean => LOOPBACK_HOST_HEADER.test(value);
