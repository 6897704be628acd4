/** make bench-panel: the Galata setup of playwright.config.js, on the benchmarks in bench/. */
const base = require('./playwright.config');

module.exports = { ...base, testDir: './bench', retries: 0, timeout: 900000 };
