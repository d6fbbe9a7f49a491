import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  Gateway,
  GATEWAY_MODES,
  GatewayConfigError,
  loadGatewayConfig,
  startGatewayWorkers,
  tuneGatewayProcess,
  type GatewayMode,
} from '../../gateway/index.js';

function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('a count from 1 to 256, or auto (one per core)');
  return n;
}

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('Run an authenticating, default-deny reverse proxy in front of internal services (ClickHouse, Prometheus, Grafana, Ollama, vLLM)')
    .requiredOption('--config <file>', 'gateway YAML (schema/gateway-config.schema.json)')
    .option('--check', 'validate the config and exit')
    .option('--no-watch', 'do not reload when the config file changes (SIGHUP still reloads)')
    .option('--workers <n>', 'gateway processes sharing the port (node:cluster), or auto for one per core', workerCount, 1)
    .addOption(
      new Option(
        '--mode <mode>',
        'proxy: the proxy (and the authz listeners, if configured); authz: only the authorization server, for nginx, Caddy, Traefik or Envoy in front',
      )
        .choices(GATEWAY_MODES)
        .default('proxy'),
    )
    .addHelpText(
      'after',
      `
Listens on 127.0.0.1:8480 unless the config says otherwise. Every request needs a credential the
route accepts (Warden API key, OIDC JWT, client certificate) and an allow rule whose scopes it holds;
paths the upstream's profile does not name are refused. SIGHUP or editing the file reloads routes
and policies without dropping connections; SIGINT/SIGTERM stop after in-flight requests finish.
With --workers, each process verifies keys itself and /metrics reports all of them together.
--mode authz answers another proxy's authorization subrequests with the same decisions (the config's
authz section: nginx auth_request, Caddy forward_auth, Traefik forwardAuth, Envoy ext_authz).

Example:
  warden gateway --config gateway.yaml --check
  warden gateway --config gateway.yaml
  warden gateway --config gateway.yaml --workers auto
  warden gateway --config gateway.yaml --mode authz`,
    )
    .action(async (opts: { config: string; check?: boolean; watch: boolean; workers: number; mode: GatewayMode }) => {
      // A config error is a GatewayConfigError (exit 2) naming the file and line.
      const config = loadGatewayConfig(opts.config);
      if (opts.mode === 'authz' && !config.authz)
        throw new GatewayConfigError(`${opts.config}: --mode authz needs an authz section (authz.listen, authz.grpc or both)`);
      // The gRPC listener is grpc-js's own server, which node:cluster workers would not share: one process serves authorization.
      if (config.authz && opts.workers > 1)
        throw new GatewayConfigError(
          `${opts.config}: the authz listeners run in one process; use --workers 1, or a config without authz for the proxy's workers`,
        );
      if (opts.check) {
        process.stderr.write(`warden: ${opts.config}: ok (${config.routes.length} routes${config.authz ? ', authz listeners' : ''})\n`);
        return;
      }
      const log = (line: string) => process.stderr.write(`warden: ${line}\n`);
      tuneGatewayProcess();
      const running =
        opts.workers > 1
          ? await startGatewayWorkers({ workers: opts.workers, configPath: opts.config, watch: opts.watch, log })
          : await Gateway.start({ config, configPath: opts.config, watch: opts.watch, log, mode: opts.mode });
      const authz =
        running instanceof Gateway
          ? [
              running.authzUrl && `authorization on ${running.authzUrl}`,
              running.authzGrpcAddress && `Envoy ext_authz gRPC on ${running.authzGrpcAddress}`,
            ].filter(Boolean)
          : [];
      const proxy = opts.mode === 'proxy' ? [`gateway listening on ${running.url}`] : [];
      log(
        `${[...proxy, ...authz].join(', ')}${running.metricsUrl ? `, metrics on ${running.metricsUrl}` : ''}${opts.workers > 1 ? ` (${opts.workers} worker processes)` : ''}`,
      );
      const onHup = () => void running.reload();
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      process.off('SIGHUP', onHup);
      log('gateway stopping: finishing in-flight requests');
      await running.close();
    });
}
