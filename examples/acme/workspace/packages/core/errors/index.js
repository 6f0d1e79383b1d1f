'use strict';

class AcmeError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'AcmeError';
    this.code = code || 'ACME';
  }
}

function describe() {
  return { package: '@acme/errors', version: require('./package.json').version, format: 'cjs' };
}

module.exports = { AcmeError, describe };
