/** Injection tokens of the start-up facts; they live with the config so that no feature imports the app module. */
export const APP_CONFIG = Symbol('APP_CONFIG');
/** Where the IB session connects: the in-process simulator or the gateway container's API port. */
export const IB_API_TARGET = Symbol('IB_API_TARGET');
export const SERVICE_VERSION = '0.1.0';
