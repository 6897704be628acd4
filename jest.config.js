// Unit tests run in Node (the maths, parsing and engine code are pure
// TypeScript); widget and plugin tests opt into jsdom per file. JupyterLab's
// packages ship ES modules: babel turns those into CommonJS for jest.
const esModules = ['@jupyterlab', '@jupyter', '@codemirror', '@lezer', '@microsoft', 'exenv-es6', 'lib0', 'nanoid', 'y-protocols', 'yjs', 'marked', 'style-mod', 'w3c-keyname', 'crelt', '@marijn', 'vscode-ws-jsonrpc'].join('|');

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
    '^.+\\.m?jsx?$': ['babel-jest', { plugins: ['@babel/plugin-transform-modules-commonjs'], babelrc: false, configFile: false }]
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esModules})/)`],
  moduleNameMapper: {
    '\\.(css)$': '<rootDir>/src/__tests__/styleMock.js',
    '\\.svg$': '<rootDir>/src/__tests__/svgMock.js'
  },
  setupFiles: ['<rootDir>/src/__tests__/jsdomShim.js'],
  testTimeout: 120000
};
