'use strict';

const errors = require('@acme/errors');

let isNumber = null;
try {
  isNumber = require('is-number'); // optional: the widget works without it
} catch (err) {
  isNumber = (value) => typeof value === 'number';
}

function badge(label, count) {
  if (!isNumber(count)) throw new errors.AcmeError(`not a count: ${count}`, 'BADGE');
  return `[${label}: ${count}]`;
}

function describe() {
  return [{ package: '@acme-ui/widgets', version: require('./package.json').version, format: 'cjs' }];
}

module.exports = { badge, describe };
