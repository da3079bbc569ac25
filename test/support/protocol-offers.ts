import { ServerVersion } from '../../src/simulator/protocol/versions';

export interface ProtocolOffer {
  label: string;
  /** The range the client offers; undefined for @stoqey/ib's own (v100..193). */
  offer: { min: number; max: number } | undefined;
  /** The version the simulator must answer with. */
  version: number;
}

/**
 * One client for every version the simulator speaks, 151 to 193: most offer just that version; the ends
 * and v178 offer what real clients offer (ib-tws-api v100..151, the Python client v157..178, @stoqey/ib
 * v100..193), so negotiation inside a range is exercised too.
 */
export function everyVersion(): ProtocolOffer[] {
  const offers: ProtocolOffer[] = [];
  for (let version: number = ServerVersion.OLDEST; version <= ServerVersion.NEWEST; version++) {
    if (version === ServerVersion.OLDEST) {
      offers.push({
        label: 'v151 (offering v100..151, as ib-tws-api)',
        offer: { min: 100, max: 151 },
        version,
      });
    } else if (version === 178) {
      offers.push({
        label: 'v178 (offering v157..178, as the Python client)',
        offer: { min: 157, max: 178 },
        version,
      });
    } else if (version === ServerVersion.NEWEST) {
      offers.push({ label: 'v193 (offering v100..193, as @stoqey/ib)', offer: undefined, version });
    } else {
      offers.push({
        label: `v${version} (offering v${version} only)`,
        offer: { min: version, max: version },
        version,
      });
    }
  }
  return offers;
}
