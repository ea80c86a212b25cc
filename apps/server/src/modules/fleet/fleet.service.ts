import type { Clock } from '../../clock.js';
import type { FleetRepository } from './fleet.repository.js';

export class FleetService {
  constructor(
    readonly repo: FleetRepository,
    readonly clock: Clock,
  ) {}
}
