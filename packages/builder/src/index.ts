export { buildManifests, claimName, type BuildOptions, type BuiltManifests, type ManifestObject } from './manifests.js';
export { DEFAULT_FORM } from './default-form.js';
