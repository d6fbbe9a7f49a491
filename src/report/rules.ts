import type { Detector } from '../detect/index.js';
import type { ReportRule } from './types.js';

/** What a report says about each rule of a detector: its title, severity and where to rotate what it finds. */
export function detectorRules(detector: Detector): ReportRule[] {
  return detector.rules.map(({ spec }) => ({
    id: spec.id,
    title: spec.title,
    severity: spec.severity,
    ...(spec.rotateUrl ? { helpUri: spec.rotateUrl } : {}),
  }));
}
