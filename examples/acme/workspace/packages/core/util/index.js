import { createRequire } from 'node:module';
import errors from '@acme/errors';
import ms from 'ms';

const require = createRequire(import.meta.url);
const msVersion = require('ms/package.json').version;

export function duration(text) {
  const value = ms(text);
  if (value === undefined) throw new errors.AcmeError(`not a duration: ${text}`, 'DURATION');
  return value;
}

export function describe() {
  return [{ package: '@acme/util', version: require('./package.json').version, format: 'esm', ms: msVersion },
    errors.describe()];
}
