/** warden/config: `warden.yaml` for `warden serve`, validated against schema/warden-config.schema.json. */
export {
  loadConfig,
  parseConfig,
  ConfigError,
  CONFIG_SCHEMA,
  DEFAULT_LISTEN,
  type AlertSinkConfig,
  type DistributedConfig,
  type IncidentPolicy,
  type Inventory,
  type Schedule,
  type ServeConfig,
} from './load.js';
export { STARTER_CONFIG } from './starter.js';
export { parseDuration } from '../duration.js';
export { parseListenAddress, type ListenAddress } from '../listen-address.js';
