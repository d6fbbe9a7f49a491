/**
 * Canary trips become incidents and alerts at once: each trip a key store recorded (in this process or any
 * other sharing the store) is claimed once, recorded on its canary's incident, and sent to every alert sink
 * without waiting for a run and without flap suppression.
 */
import { CANARY_TOPIC, checkPlantings, type CanaryTrip, type KeyStore, type PlantingCheck } from '../keys/index.js';
import { recordCanaryTrip, type IncidentRegimes, type IncidentStore } from '../incident/index.js';
import type { Store, Subscription } from '../store/index.js';
import type { AlertDispatcher } from './alerts.js';
import type { Alert } from './history.js';

export interface CanaryWatchOptions {
  store: Store;
  keys: KeyStore;
  incidents: IncidentStore;
  alerts: AlertDispatcher;
  regimes: IncidentRegimes;
  /** How often every planting is checked to be still in place. */
  checkEveryMs: number;
  log: (line: string) => void;
}

export interface CanaryWatch {
  /** Resolves when the trips announced so far are handled. */
  drained(): Promise<void>;
  /** Checks every planting now (as the schedule does); resolves when done. */
  checkNow(): Promise<void>;
  close(): Promise<void>;
}

/** How the alert names a trip: the source is the host, the planted place is in the title. */
export function canaryAlert(trip: CanaryTrip): Alert {
  return {
    kind: 'canary-tripped',
    inventory: 'canaries',
    finding: {
      id: `canary:${trip.keyId}`,
      service: 'canary',
      host: trip.ip || 'unknown',
      port: 0,
      title: `Canary key ${trip.keyId} used via ${trip.via}; it was planted in ${trip.where}`,
      auth: 'canary',
      severity: 'critical',
      firstSeen: trip.at,
      lastSeen: trip.at,
    },
    canary: {
      keyId: trip.keyId,
      plantedIn: trip.where,
      sourceAddress: trip.ip,
      userAgent: trip.userAgent,
      route: trip.route,
      via: trip.via,
      at: new Date(trip.at).toISOString(),
    },
  };
}

/** A planting found gone: whoever removed it knew it was there, or the place was rebuilt without it. */
export function canaryMissingAlert(check: PlantingCheck, now = Date.now()): Alert {
  return {
    kind: 'canary-missing',
    inventory: 'canaries',
    finding: {
      id: `canary:${check.keyId}:${check.target}`,
      service: 'canary',
      host: check.target,
      port: 0,
      title: `Canary ${check.keyId} is no longer in ${check.target}`,
      auth: 'canary',
      severity: 'high',
      firstSeen: now,
      lastSeen: now,
    },
  };
}

export async function startCanaryWatch(options: CanaryWatchOptions): Promise<CanaryWatch> {
  const { keys, incidents, alerts, log } = options;
  let draining: Promise<void> = Promise.resolve();
  let again = false;
  let closed = false;

  async function handlePending(): Promise<void> {
    do {
      again = false;
      for (const trip of await keys.canaries.pendingTrips()) {
        if (closed || !(await keys.canaries.claimTrip(trip.seq))) continue;
        alerts.dispatch({ inventory: 'canaries', runId: null, test: false, alerts: [canaryAlert(trip)] });
        try {
          const { incident, opened } = await recordCanaryTrip(incidents, trip, options.regimes, 'warden-serve');
          log(`canary ${trip.keyId} used from ${trip.ip || 'an unknown address'} via ${trip.via}: incident ${incident.id} ${opened ? 'opened' : 'updated'}`);
        } catch (err) {
          log(`canary ${trip.keyId} used, but its incident could not be recorded: ${(err as Error).message}`);
        }
      }
    } while (again && !closed);
  }

  function drain(): Promise<void> {
    again = true;
    draining = draining.then(handlePending).catch((err: Error) => log(`canary trips could not be read: ${err.message}`));
    return draining;
  }

  const subscription: Subscription = await options.store.subscribe(CANARY_TOPIC, {
    onMessage: () => void drain(),
    // Announcements made while the channel was down were never heard: read what is pending.
    onState: (up) => {
      if (up) void drain();
    },
  });
  // Trips recorded while no serve was running.
  void drain();

  /** Alerts on a planting that was there (or never checked) and is gone now; an unreadable place is logged as unknown. */
  async function checkPlanted(): Promise<void> {
    // No credential from the environment: the daemon's own store password must not reach a planted store.
    for (const check of await checkPlantings(keys, { env: {} })) {
      if (check.present === null) log(`canary ${check.keyId}: could not check ${check.target}: ${check.error}`);
      else if (!check.present && check.before !== false) {
        log(`canary ${check.keyId} is no longer in ${check.target}`);
        alerts.dispatch({ inventory: 'canaries', runId: null, test: false, alerts: [canaryMissingAlert(check)] });
      }
    }
  }
  let checking: Promise<void> = Promise.resolve();
  const check = () => {
    checking = checking.then(checkPlanted).catch((err: Error) => log(`canary plantings could not be checked: ${err.message}`));
  };
  const timer = setInterval(check, options.checkEveryMs);
  timer.unref();
  check();
  return {
    drained: () => draining,
    checkNow() {
      check();
      return checking;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await subscription.close();
      await Promise.all([draining, checking]);
    },
  };
}
