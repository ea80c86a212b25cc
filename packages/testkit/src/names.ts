import { ENVIRONMENTS, type Environment, type Labels } from '@niro/protocol';
import type { Rng } from './rng.js';

/** What a simulated cluster looks like from the dashboard: its name, environment and labels. */
export type ClusterProfile = {
  name: string;
  environment: Environment;
  labels: Labels;
  /** The kind of site, which also decides which apps run there. */
  flavor: ClusterFlavor;
};

export type ClusterFlavor = 'edge' | 'shop' | 'factory' | 'homelab' | 'staging' | 'dev' | 'cloud';

const CITIES: readonly { city: string; region: string }[] = [
  { city: 'lisbon', region: 'eu-south' },
  { city: 'porto', region: 'eu-south' },
  { city: 'bilbao', region: 'eu-south' },
  { city: 'valencia', region: 'eu-south' },
  { city: 'turin', region: 'eu-south' },
  { city: 'lyon', region: 'eu-west' },
  { city: 'nantes', region: 'eu-west' },
  { city: 'ghent', region: 'eu-west' },
  { city: 'utrecht', region: 'eu-west' },
  { city: 'leeds', region: 'eu-west' },
  { city: 'cork', region: 'eu-west' },
  { city: 'ulm', region: 'eu-central' },
  { city: 'munich', region: 'eu-central' },
  { city: 'basel', region: 'eu-central' },
  { city: 'graz', region: 'eu-central' },
  { city: 'brno', region: 'eu-central' },
  { city: 'krakow', region: 'eu-central' },
  { city: 'gdansk', region: 'eu-north' },
  { city: 'riga', region: 'eu-north' },
  { city: 'tampere', region: 'eu-north' },
  { city: 'aarhus', region: 'eu-north' },
  { city: 'malmo', region: 'eu-north' },
];

const FLAVOR_WEIGHTS: readonly [ClusterFlavor, number][] = [
  ['edge', 30],
  ['shop', 25],
  ['factory', 15],
  ['homelab', 8],
  ['staging', 8],
  ['dev', 7],
  ['cloud', 7],
];

const HOMELAB_NAMES = ['homelab', 'pi-cluster', 'nuc-lab', 'basement-rack', 'garage-k3s'];
const DEVELOPERS = ['anna', 'marco', 'lea', 'tomas', 'ines', 'jonas', 'sofia', 'piet'];
const PROVIDERS = ['hetzner', 'aws', 'scaleway', 'ovh'];

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function pickWeighted<T>(rng: Rng, weights: readonly (readonly [T, number])[]): T {
  const total = weights.reduce((sum, [, w]) => sum + Math.max(0, w), 0);
  let roll = rng.next() * total;
  for (const [value, w] of weights) {
    roll -= Math.max(0, w);
    if (roll < 0) return value;
  }
  const last = weights[weights.length - 1];
  if (last === undefined) throw new Error('pickWeighted needs at least one weight');
  return last[0];
}

/** One realistic cluster: `edge-lisbon-03`, `factory-ulm-01`, `shop-0042`, `homelab`, … */
export function generateClusterProfile(rng: Rng, flavor?: ClusterFlavor): ClusterProfile {
  const kind = flavor ?? pickWeighted(rng, FLAVOR_WEIGHTS);
  const { city, region } = rng.pick(CITIES);
  switch (kind) {
    case 'edge':
      return {
        name: `edge-${city}-${pad(rng.int(1, 12), 2)}`,
        environment: rng.chance(0.85) ? 'production' : 'staging',
        labels: { tier: 'edge', site: city, region },
        flavor: kind,
      };
    case 'shop': {
      const store = pad(rng.int(1, 4999), 4);
      return {
        name: `shop-${store}`,
        environment: 'production',
        labels: { tier: 'retail', store, region },
        flavor: kind,
      };
    }
    case 'factory':
      return {
        name: `factory-${city}-${pad(rng.int(1, 4), 2)}`,
        environment: rng.chance(0.9) ? 'production' : 'staging',
        labels: { tier: 'factory', site: city, line: `line-${rng.int(1, 6)}` },
        flavor: kind,
      };
    case 'homelab':
      return { name: rng.pick(HOMELAB_NAMES), environment: 'dev', labels: { owner: 'ops' }, flavor: kind };
    case 'staging':
      return {
        name: `staging-${region}-${rng.int(1, 3)}`,
        environment: 'staging',
        labels: { region, team: 'platform' },
        flavor: kind,
      };
    case 'dev':
      return {
        name: `dev-${rng.pick(DEVELOPERS)}`,
        environment: 'dev',
        labels: { team: rng.pick(['platform', 'apps', 'data']) },
        flavor: kind,
      };
    case 'cloud': {
      const provider = rng.pick(PROVIDERS);
      return {
        name: `vm-${region}-${rng.int(1, 9)}`,
        environment: rng.chance(0.7) ? 'production' : 'unspecified',
        labels: { provider, region },
        flavor: kind,
      };
    }
  }
}

export type ProfileOptions = {
  /** Prepended as `<prefix>-<name>`; empty for none. */
  prefix?: string;
  /** Relative weights; when given, environments are drawn from it instead of from the site kind. */
  environmentMix?: Partial<Record<Environment, number>>;
  /** Names already taken (for example by existing clusters). */
  taken?: Iterable<string>;
};

/** `count` distinct cluster profiles; names are valid DNS labels of at most 63 characters. */
export function generateClusterProfiles(count: number, rng: Rng, options: ProfileOptions = {}): ClusterProfile[] {
  const taken = new Set(options.taken ?? []);
  const prefix = options.prefix ? `${options.prefix.replace(/-+$/, '')}-` : '';
  const mix = options.environmentMix;
  const mixWeights =
    mix === undefined ? null : ENVIRONMENTS.map((e) => [e, mix[e] ?? 0] as const).filter(([, w]) => w > 0);
  const out: ClusterProfile[] = [];
  for (let i = 0; i < count; i++) {
    const profile = generateClusterProfile(rng);
    let name = `${prefix}${profile.name}`.slice(0, 63).replace(/-+$/, '');
    for (let n = 2; taken.has(name); n++) {
      const suffix = `-${n}`;
      name = `${`${prefix}${profile.name}`.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
    }
    taken.add(name);
    const environment =
      mixWeights !== null && mixWeights.length > 0 ? pickWeighted(rng, mixWeights) : profile.environment;
    out.push({ ...profile, name, environment });
  }
  return out;
}
