// Unit tests run in Node: the maths, parsing and engine code are pure TypeScript.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json', isolatedModules: true }]
  },
  moduleNameMapper: {
    // geotiff's CommonJS build requires the ESM-only quick-lru.
    '^quick-lru$': '<rootDir>/src/slide/__tests__/quickLruShim.ts',
    '\\.(css)$': '<rootDir>/src/__tests__/styleMock.js'
  },
  testTimeout: 120000
};
