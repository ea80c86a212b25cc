import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { ClustersRepository } from './clusters.repository.js';

export class ClustersService {
  constructor(
    readonly repo: ClustersRepository,
    readonly clock: Clock,
    readonly config: Config,
  ) {}
}
