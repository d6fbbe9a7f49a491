/** The commented starter file `warden init` writes; it must stay valid (config.test.ts parses it). */
export const STARTER_CONFIG = `# warden.yaml: what \`warden serve\` watches, how often, and whom it tells.
# Schema: schema/warden-config.schema.json (shipped with the package).
version: 1

# Where the daemon listens. Loopback by default: the API, dashboard and /metrics all need a Warden key,
# but nothing here should face the internet. \`warden serve --listen HOST:PORT\` overrides this.
listen: 127.0.0.1:7470

# History of runs and findings. A SQLite file beside this config by default; use a postgres:// URL
# (password from PGPASSWORD, never written here) when several daemons or workers share one store.
store: warden.db

# Re-check a finding that appears before alerting on it, and call a finding that opens again within
# this window after closing "flapping" instead of alerting each time.
recheck: true
flapWindow: 24h

inventories:
  - name: local-datastores
    # Hostnames, addresses, CIDR ranges or host:port. Only scan what you own or may test.
    targets:
      - 127.0.0.1
    # Ports to try on each target (default: every probe's well-known ports).
    ports: 5432,6379,8123,9000,9200
    tags:
      environment: development
      owner: platform-team
    # Either an interval (every: 15m) or a cron expression (cron: "*/15 * * * *").
    every: 15m
    # Each run starts up to this much later than scheduled, so fleets do not scan in lockstep.
    jitter: 30s
    # Rows per table to pass through the secret detector (0 never reads rows).
    sample: 0

# When a run finds an open store holding credentials or chat data (needs sample > 0), open an incident and
# triage it read-only (see docs/incident.md). Revoking the Warden keys found takes its own explicit setting.
incidents:
  open: false
  revokeWardenKeys: false

# Distributed mode (docs/serve.md): shards on NATS JetStream, scanned by \`warden worker\` processes that
# write to the shared store (a postgres:// URL above).
# distributed:
#   nats: nats://127.0.0.1:4222
#   shardSize: 256
#   ackWait: 60s
#   deadline: 1h

# Alerts on new and escalated findings. Secrets come from the environment, never from this file.
alerts: []
#  - name: ops-webhook
#    type: webhook                 # JSON body, X-Warden-Signature: sha256=HMAC(secret, timestamp.body)
#    url: https://hooks.example.internal/warden
#    secretEnv: WARDEN_WEBHOOK_SECRET
#    minSeverity: medium
#  - name: team-slack
#    type: slack
#    urlEnv: WARDEN_SLACK_WEBHOOK_URL
#    minSeverity: high
`;
