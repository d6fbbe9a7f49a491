/**
 * The authorization server's gRPC front door: `envoy.service.auth.v3.Authorization/Check`, for Envoy's
 * `ext_authz` filter with a `grpc_service`. The protos in ./proto are a wire-compatible subset of Envoy's
 * published ones. An allowed request comes back with identity headers to set upstream (overwriting any
 * client copy) and the client's credential to remove; a refusal with the gateway's status and JSON body.
 * A failed Check is a gRPC error, which Envoy (with failure_mode_allow off, its default) refuses.
 */
import { fileURLToPath } from 'node:url';
import type { ServerUnaryCall, sendUnaryData, ServiceDefinition } from '@grpc/grpc-js';
import { hostPort } from '../../host-port.js';
import { refusalBody, type Refusal } from '../policy.js';
import type { AuthzAnswer, OriginalRequest } from './authorize.js';
import { envoyGrpcReport, ReportedFields } from './report.js';

const PROTO_ROOT = fileURLToPath(new URL('./proto/', import.meta.url));
const CHECK_SERVICE = 'envoy.service.auth.v3.Authorization';

interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

/** CheckRequest as proto-loader decodes it (keepCase), only the fields the protos declare. */
interface CheckRequest {
  attributes?: {
    source?: { address?: { socket_address?: { address?: string } } };
    request?: {
      http?: { method?: string; headers?: Record<string, string>; path?: string; host?: string; scheme?: string; header_map?: { headers?: HeaderValue[] } };
    };
  };
}

interface HeaderValueOption {
  header: { key: string; value: string };
  append_action?: number;
}

interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[] };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
}

/** google.rpc.Code for each refusal status Envoy is told about; the HTTP status goes in denied_response. */
const RPC_CODES: Record<number, number> = { 400: 3, 401: 16, 403: 7, 405: 7, 429: 8, 503: 14 };
const RPC_PERMISSION_DENIED = 7;
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

/** The report in a CheckRequest: every copy of each header with `encode_raw_headers`, else Envoy's merged map. */
export function checkRequestReport(request: CheckRequest): OriginalRequest | Refusal {
  const http = request.attributes?.request?.http ?? {};
  const raw = http.header_map?.headers;
  const pairs: Array<[string, string]> = raw?.length
    ? raw.map((h): [string, string] => [(h.key ?? '').toLowerCase(), h.value || (h.raw_value ? h.raw_value.toString('latin1') : '')])
    : Object.entries(http.headers ?? {}).map(([k, v]): [string, string] => [k.toLowerCase(), v]);
  return envoyGrpcReport(new ReportedFields(pairs), http, request.attributes?.source?.address?.socket_address?.address);
}

export function checkResponse(answer: AuthzAnswer): CheckResponse {
  const refusal = answer.refusal;
  const option = ([key, value]: [string, string]): HeaderValueOption => ({ header: { key, value }, append_action: OVERWRITE_IF_EXISTS_OR_ADD });
  if (!refusal) return { status: { code: 0 }, ok_response: { headers: answer.set.map(option), headers_to_remove: answer.remove } };
  const body = JSON.stringify(refusalBody(refusal, answer.decision?.route.name ?? null));
  const headers: Array<[string, string]> = [['content-type', 'application/json'], ['cache-control', 'no-store'], ...Object.entries(refusal.headers ?? {})];
  return {
    status: { code: RPC_CODES[refusal.status] ?? RPC_PERMISSION_DENIED, message: refusal.reason },
    denied_response: { status: { code: refusal.status }, headers: headers.map(option), body },
  };
}

export interface EnvoyGrpcServer {
  /** The port it is bound to. */
  port: number;
  close(): Promise<void>;
}

/** Serves Check on host:port (plaintext). grpc-js and the protos are loaded only when a gRPC listener is configured. */
export async function startEnvoyGrpcServer(
  host: string,
  port: number,
  judge: (report: OriginalRequest | Refusal) => AuthzAnswer | Promise<AuthzAnswer>,
  log: (message: string) => void,
): Promise<EnvoyGrpcServer> {
  const [{ Server, ServerCredentials, status }, { loadSync }] = await Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]);
  const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    enums: Number,
    longs: Number,
    defaults: false,
    oneofs: true,
  });
  const server = new Server();
  server.addService(definition[CHECK_SERVICE] as ServiceDefinition, {
    Check: (call: ServerUnaryCall<CheckRequest, CheckResponse>, callback: sendUnaryData<CheckResponse>) => {
      void (async () => {
        try {
          const judged = judge(checkRequestReport(call.request));
          callback(null, checkResponse(judged instanceof Promise ? await judged : judged));
        } catch (err) {
          log(`gateway: authz: internal error: ${(err as Error).message}`);
          callback({ code: status.INTERNAL, details: 'internal_error' });
        }
      })();
    },
  });
  const address = hostPort(host, port);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        // In-flight Checks are a few µs each: a short grace, then the rest are cut.
        const timer = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
