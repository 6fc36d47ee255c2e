// The one place that picks an engine by name; callers then use only the Engine interface.
// Layering: src/ike-bridge may import the peer model (src/peers/model.ts, keys.ts, material.ts), src/wire and
// src/util; never policy or anything above it.
import type { Engine } from './engine';
import { DryRunEngine } from './dry-run';
import { LibreswanEngine, type LibreswanEngineOptions } from './libreswan';
import { StrongswanEngine, type StrongswanEngineOptions } from './strongswan';
import { silentLogger, type Logger } from '../util/log';

export type EngineKind = 'strongswan' | 'libreswan' | 'dry-run';

export interface EngineOptionsByKind {
  strongswan: StrongswanEngineOptions;
  libreswan: LibreswanEngineOptions;
  'dry-run': { logger?: Logger };
}

export function createEngine<K extends EngineKind>(kind: K, opts: EngineOptionsByKind[K]): Engine {
  switch (kind) {
    case 'strongswan':
      return new StrongswanEngine(opts as StrongswanEngineOptions);
    case 'libreswan':
      return new LibreswanEngine(opts as LibreswanEngineOptions);
    case 'dry-run':
      return new DryRunEngine(opts.logger ?? silentLogger);
    default:
      throw new Error(`unknown engine kind ${String(kind)}`);
  }
}

export { DryRunEngine, StrongswanEngine, LibreswanEngine };
export type { StrongswanEngineOptions, LibreswanEngineOptions };
export type { AuthFailure } from './strongswan';
