// Unit tests run in Node: the maths, parsing and engine code are pure TypeScript.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  },
  moduleNameMapper: {
    '\\.(css)$': '<rootDir>/src/__tests__/styleMock.js'
  },
  testTimeout: 120000
};
