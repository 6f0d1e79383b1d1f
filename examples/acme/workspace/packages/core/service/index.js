import { createRequire } from 'node:module';
import { createStore, describe as storeDescribe } from '@acme/store';

const require = createRequire(import.meta.url);

export function createService(name) {
  const store = createStore('30s');
  store.set('name', name);
  return {
    health: () => ({ status: 'ok', service: store.get('name'), ttlMs: store.ttlMs, chain: describe() }),
  };
}

export function describe() {
  return [{ package: '@acme/service', version: require('./package.json').version, format: 'esm' },
    ...storeDescribe()];
}
