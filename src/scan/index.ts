/** warden/scan: find data stores that let anyone in, and measure what they expose, read-only. */
export { scan, SCAN_SCHEMA_VERSION, type ScanOptions, type ScanProgress, type ScanReport } from './scanner.js';
export { loadProbes, defaultPorts, probeTags, selectProbes, PROBES_DIR, type ProbeSelection } from './registry.js';
export { formatScanReport, formatScanSarif, SCAN_FORMATS, toReportFinding as scanReportFinding, type ScanFormat } from './report.js';
export { secretsOrChat, sensitiveTables } from './evidence.js';
export { createTargetSet, parsePorts, parseTargetLines, type Target, type TargetSet } from './targets.js';
export { PROBE_LEVELS, levelAllowed } from './types.js';
/** Redis's wire format, for the other capabilities that speak to Redis. */
export { encodeCommand as encodeRespCommand, parseReply as parseRespReply, RespError, type RespValue } from './transports/resp.js';
export type { Assessment, AuthState, Evidence, Finding, Fingerprint, Probe, ProbeContext, ProbeLevel, StoreReadPath } from './types.js';
