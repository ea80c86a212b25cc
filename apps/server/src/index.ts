export { startServer, type RunningServer, type StartOptions } from './main.js';
export {
  loadConfig,
  configInputFromEnv,
  ConfigError,
  CONFIG_VARIABLES,
  type Config,
  type ConfigInput,
} from './config.js';
export { createLogger, type Logger } from './logger.js';
