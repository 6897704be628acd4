/**
 * Suites that need data or hardware: skip with a warning on a developer's
 * machine without them, but FAIL under CI=true, where a missing ../shared or
 * WebGPU adapter means the suite would pass without testing anything.
 */
export function requireOrSkip(what: string, missing: string[]): boolean {
  if (missing.length === 0) {
    return true;
  }
  const reason = `${what}: missing ${missing.join(', ')}`;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    describe(what, () => {
      it('has what it needs under CI', () => {
        throw new Error(`${reason} (CI=true: a data-gated suite must not pass without running)`);
      });
    });
  } else {
    console.warn(`SKIPPING ${reason}`);
    describe.skip(what, () => it('needs its data', () => undefined));
  }
  return false;
}
