/** warden/config: `warden.yaml` for `warden serve`, validated against schema/warden-config.schema.json. */
export {
  loadConfig,
  parseConfig,
  parseListen,
  ConfigError,
  CONFIG_SCHEMA,
  DEFAULT_LISTEN,
  type AlertSinkConfig,
  type Inventory,
  type Schedule,
  type ServeConfig,
} from './load.js';
export { STARTER_CONFIG } from './starter.js';
