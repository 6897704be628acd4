/**
 * Writes the cross-language fixture folder from TypeScript (the store over
 * the filesystem fake): `tsx writeFixture.ts <root>` makes <root>/X.svs.uga
 * and prints the expected patches as JSON. Used by tests/test_ts_roundtrip.py.
 */
import { CorrectionsStore } from '../CorrectionsStore';
import { FsContents } from './fakeContents';
import { correction, run } from './helpers';

async function main(root: string): Promise<void> {
  const cs = [correction(0, 'corrected'), correction(1, 'corrected'), correction(2, 'skipped'), correction(3, 'suggested')];
  cs[1].mask[3] = 255;
  const store = new CorrectionsStore({ contents: new FsContents(root), slidePath: 'X.svs' });
  const r = run(0);
  r.patches = cs.map(c => ({ ...c, status: 'suggested' as const }));
  for (const out of [await store.writeSuggestions(r), await store.accept([cs[0], cs[1]]), await store.skip(cs[2].id)]) {
    if (!out.saved) {
      throw out.error;
    }
  }
  process.stdout.write(
    JSON.stringify(
      cs.map(c => ({
        id: c.id,
        status: c.status,
        box: c.box,
        rgb: Array.from(c.image).filter((_, i) => i % 4 !== 3),
        mask: Array.from(c.mask)
      }))
    )
  );
}

main(process.argv[2]).catch(e => {
  process.stderr.write(String(e?.stack ?? e));
  process.exit(1);
});
