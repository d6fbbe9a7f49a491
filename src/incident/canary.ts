import type { CanaryTrip } from '../keys/index.js';
import type { IncidentStore } from './incident-store.js';
import type { Incident, IncidentRegimes } from './types.js';

/** The origin of the one open incident per canary, so every later use lands on its timeline. */
export const canaryOrigin = (keyId: string): string => `canary:${keyId}`;

/**
 * Opens the `canary-tripped` incident for a canary's first use (or finds the one still open) and records the
 * use on its timeline: when, from which address, with which user agent, on which route, through which front
 * door, and where the canary had been planted.
 */
export async function recordCanaryTrip(
  incidents: IncidentStore,
  trip: CanaryTrip,
  regimes: IncidentRegimes,
  actor = 'warden-canary',
): Promise<{ incident: Incident; opened: boolean }> {
  const origin = canaryOrigin(trip.keyId);
  let incident = await incidents.findOpen(origin);
  const opened = !incident;
  incident ??= await incidents.open(
    { kind: 'canary-tripped', title: `Canary key used: planted in ${trip.where}`, detectedAt: trip.at, regimes, origin },
    actor,
  );
  await incidents.record(incident.id, {
    type: 'canary-tripped',
    message: `Canary ${trip.keyId} (planted in ${trip.where}) used from ${trip.ip || 'an unknown address'} via ${trip.via}${trip.route ? ` on ${trip.route}` : ''}`,
    happenedAt: trip.at,
    details: { keyId: trip.keyId, plantedIn: trip.where, sourceAddress: trip.ip, userAgent: trip.userAgent, route: trip.route, via: trip.via },
    actor,
  });
  return { incident, opened };
}
