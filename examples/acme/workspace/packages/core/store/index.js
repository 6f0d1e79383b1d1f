import { createRequire } from 'node:module';
import { describe as utilDescribe, duration } from '@acme/util';

const require = createRequire(import.meta.url);

export function createStore(ttl = '1m') {
  const items = new Map();
  const ttlMs = duration(ttl);
  return {
    ttlMs,
    set: (key, value) => items.set(key, value),
    get: (key) => items.get(key),
    size: () => items.size,
  };
}

export function describe() {
  return [{ package: '@acme/store', version: require('./package.json').version, format: 'esm' }, ...utilDescribe()];
}
