/** warden/serve: continuous exposure monitoring with history, alerts, an API and a dashboard. */
export { startServe, ADMIN_SCOPES, type ServeDaemon, type ServeOptions, type ScanRunner, type ScanPass } from './daemon.js';
export {
  ServeHistory,
  SEVERITY_ORDER,
  type Alert,
  type AlertKind,
  type FindingEvent,
  type RunRecord,
  type RunOutcome,
  type ShardResult,
  type StoredFinding,
  type Acknowledgement,
} from './history.js';
export { AlertDispatcher, signWebhook, verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, type AlertBatch, type DeliveryResult } from './alerts.js';
export { SERVE_OPENAPI } from './openapi.js';
export { SESSION_COOKIE } from './http.js';
export { runWorker, ensureWorkQueue, shardTargets, QueueError, type WorkerOptions, type WorkerStats, type ShardMessage } from './distributed.js';
