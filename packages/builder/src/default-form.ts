import type { DeploymentForm } from '@niro/protocol';

/**
 * A new form in the web builder: a small web server that passes the policy checks for requests,
 * memory limits and probes, ready to be renamed and pointed at another image.
 */
export const DEFAULT_FORM: DeploymentForm = {
  name: 'web',
  image: 'nginx:1.27',
  replicas: 2,
  ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
  service: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 80 }] },
  env: [],
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  probes: {
    readiness: { type: 'http', path: '/', port: 80, periodSeconds: 10 },
    liveness: { type: 'http', path: '/', port: 80, initialDelaySeconds: 10, periodSeconds: 20 },
  },
  volumes: [],
};
