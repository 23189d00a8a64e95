import test from 'ava';
import { parseBumpTargets } from '../../src/bump/documents.ts';
import { applyEdits, checkRewrite } from '../../src/bump/edit.ts';
import { planBumps, renderVersionId, versionKey } from '../../src/bump/plan.ts';

const NEW = 'f00dfeed-0000-4000-8000-000000000001';
const NEW_TLS = 'f00dfeed-0000-4000-8000-000000000002';
const NEW_LEGACY = 'f00dfeed-0000-4000-8000-000000000003';

/** parse → plan → apply, as runBump does for one file; `current` maps secretId → AWSCURRENT. */
function bump(text: string, current: Record<string, string>, defaultRegion: string | undefined = 'us-east-1') {
  const parsed = parseBumpTargets(text);
  const versions = new Map<string, string>();
  for (const ref of parsed.refs) {
    const id = current[ref.secretId];
    if (id !== undefined) versions.set(versionKey(ref.region ?? defaultRegion, ref.secretId), id);
  }
  const plan = planBumps(parsed.refs, versions, defaultRegion);
  const after = applyEdits(text, plan.edits);
  return { parsed, plan, after, check: checkRewrite(text, after, plan.changes) };
}

const FIXTURE = `# top comment: keep me
apiVersion: piggysec.com/v1alpha1
kind: AWSSecret
metadata:
  name: app   # trailing comment
  namespace: prod
spec:
  stringDataFrom:
    secretsManagerSecretRef:
      secretId: prod/app
      versionId: 'old-single-0000000000000000000000'    # pinned
  dataFrom:
    secretsManagerSecretRef: {secretId: prod/tls, versionId: "old-double-000000000000000000000"}
  metadata:
    labels: {versionId: not-a-ref}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
data:
  versionId: untouched
  secretId: prod/app
---
# legacy one, keys in another order
apiVersion: mumoshu.github.io/v1alpha1
kind: AWSSecret
metadata:
  name: legacy
spec:
  stringDataFrom:
    secretsManagerSecretRef:
      versionId:   old-plain-000000000000000000000000
      secretId: legacy/db
...
`;

const EXPECTED = FIXTURE.replace("'old-single-0000000000000000000000'", `'${NEW}'`)
  .replace('"old-double-000000000000000000000"', `"${NEW_TLS}"`)
  .replace('old-plain-000000000000000000000000', NEW_LEGACY);

const CURRENT = { 'prod/app': NEW, 'prod/tls': NEW_TLS, 'legacy/db': NEW_LEGACY };

test('only the versionId scalars change, in their own quoting; everything else is byte-for-byte', (t) => {
  const { parsed, plan, after, check } = bump(FIXTURE, CURRENT);
  t.deepEqual(parsed.problems, []);
  t.is(parsed.awsSecrets, 2);
  t.is(after, EXPECTED);
  t.is(check, undefined);
  t.deepEqual(
    plan.changes.map((c) => [c.namespace, c.name, c.field, c.from, c.to]),
    [
      ['prod', 'app', 'stringDataFrom', 'old-single-0000000000000000000000', NEW],
      ['prod', 'app', 'dataFrom', 'old-double-000000000000000000000', NEW_TLS],
      [undefined, 'legacy', 'stringDataFrom', 'old-plain-000000000000000000000000', NEW_LEGACY],
    ],
  );
});

test('CRLF line endings and a byte-order mark survive', (t) => {
  const crlf = `\uFEFF${FIXTURE.replaceAll('\n', '\r\n')}`;
  const { after } = bump(crlf, CURRENT);
  t.is(after, `\uFEFF${EXPECTED.replaceAll('\n', '\r\n')}`);
});

test('a file that is already current gets no edit', (t) => {
  const { plan, after } = bump(EXPECTED, CURRENT);
  t.deepEqual(plan.edits, []);
  t.is(after, EXPECTED);
});

test('documents of other kinds or API groups are never touched', (t) => {
  const text = [
    'apiVersion: example.com/v1\nkind: AWSSecret\nmetadata: {name: a}\nspec: {stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId: old}}}',
    'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecretList\nspec: {stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId: old}}}',
    'apiVersion: piggysec.com/v1alpha1\nkind: Other\nspec: {stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId: old}}}',
    '- a list document',
    '',
  ].join('\n---\n');
  const { parsed, after } = bump(text, { s: NEW });
  t.is(parsed.awsSecrets, 0);
  t.is(after, text);
});

test('a missing versionId is added next to secretId with the same indentation', (t) => {
  const block = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: s   # the db\n  type: Opaque\n';
  t.is(bump(block, { s: NEW }).after, block.replace('secretId: s   # the db\n', `secretId: s   # the db\n      versionId: ${NEW}\n`));

  const crlfAtEnd = 'apiVersion: piggysec.com/v1alpha1\r\nkind: AWSSecret\r\nmetadata: {name: a}\r\nspec:\r\n  dataFrom:\r\n    secretsManagerSecretRef:\r\n      secretId: s';
  t.is(bump(crlfAtEnd, { s: NEW }).after, `${crlfAtEnd}\r\n      versionId: ${NEW}`);

  const seqStyle = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      region: x\n      secretId: s\n';
  const result = bump(seqStyle, { s: NEW });
  t.is(result.after, `${seqStyle}      versionId: ${NEW}\n`);
  t.is(result.check, undefined);

  const flow = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec: {dataFrom: {secretsManagerSecretRef: {secretId: s, }}}\n';
  t.is(bump(flow, { s: NEW }).after, flow.replace('{secretId: s, }', `{secretId: s, versionId: ${NEW}, }`));
  t.is(bump(flow, { s: NEW }).plan.changes[0]?.from, undefined);
});

test('empty and null versionIds are filled in, keeping quotes and comments', (t) => {
  const head = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: s\n';
  const cases: [string, string][] = [
    ['      versionId:\n', `      versionId: ${NEW}\n`],
    ['      versionId: # fill me\n', `      versionId: ${NEW} # fill me\n`],
    ['      versionId: ""\n', `      versionId: "${NEW}"\n`],
    ["      versionId: ''\n", `      versionId: '${NEW}'\n`],
    ['      versionId: ~\n', `      versionId: ${NEW}\n`],
    ['      versionId: null\n', `      versionId: ${NEW}\n`],
    ['      versionId: !!str old\n', `      versionId: !!str ${NEW}\n`],
    ['      versionId: &v old\n', `      versionId: &v ${NEW}\n`],
  ];
  for (const [line, expected] of cases) {
    const { after, check } = bump(head + line, { s: NEW });
    t.is(after, head + expected, line);
    t.is(check, undefined, line);
  }
  const flow = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec: {stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId:}}}\n';
  t.is(bump(flow, { s: NEW }).after, flow.replace('versionId:}', `versionId: ${NEW}}`));
});

test('a plain versionId that YAML would read as a number is double-quoted', (t) => {
  t.is(renderVersionId('12345678901234567890123456789012', 'PLAIN'), '"12345678901234567890123456789012"');
  t.is(renderVersionId('1e10', 'PLAIN'), '"1e10"');
  t.is(renderVersionId('true', 'PLAIN'), '"true"');
  t.is(renderVersionId(NEW, 'PLAIN'), NEW);
  t.is(renderVersionId("it's", 'QUOTE_SINGLE'), "'it''s'");
  t.is(renderVersionId('a"b', 'QUOTE_DOUBLE'), '"a\\"b"');
  const text = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec: {stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId: 1234}}}\n';
  const numeric = '12345678901234567890123456789012';
  const { after, plan, check } = bump(text, { s: numeric });
  t.is(after, text.replace('versionId: 1234}', `versionId: "${numeric}"}`));
  t.is(plan.changes[0]?.from, '1234');
  t.is(check, undefined);
});

test('spec.region picks the region of the lookup; the default applies otherwise', (t) => {
  const text = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec:\n  region: eu-west-1\n  stringDataFrom: {secretsManagerSecretRef: {secretId: s, versionId: old}}\n';
  const parsed = parseBumpTargets(text);
  t.is(parsed.refs[0]?.region, 'eu-west-1');
  const inDefault = new Map([[versionKey('us-east-1', 's'), NEW]]);
  t.deepEqual(planBumps(parsed.refs, inDefault, 'us-east-1').edits, []);
  const inEu = new Map([[versionKey('eu-west-1', 's'), NEW]]);
  t.is(planBumps(parsed.refs, inEu, 'us-east-1').changes[0]?.to, NEW);
});

test('aliases, block scalars and refs without secretId are reported, not guessed', (t) => {
  const head = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a, namespace: n}\nspec:\n';
  const alias = parseBumpTargets(`${head}  x: &v old\n  stringDataFrom:\n    secretsManagerSecretRef:\n      secretId: s\n      versionId: *v\n`);
  t.is(alias.problems[0]?.code, 'ERR_BUMP_UNSUPPORTED_YAML');
  t.regex(alias.problems[0]?.message ?? '', /^AWSSecret n\/a: spec\.stringDataFrom\.secretsManagerSecretRef\.versionId cannot be rewritten: versionId is a YAML alias/);
  t.is(alias.problems[0]?.line, 9);
  const block = parseBumpTargets(`${head}  dataFrom:\n    secretsManagerSecretRef:\n      secretId: s\n      versionId: |\n        old\n`);
  t.regex(block.problems[0]?.message ?? '', /block scalar/);
  const noSecret = parseBumpTargets(`${head}  dataFrom:\n    secretsManagerSecretRef:\n      versionId: old\n`);
  t.is(noSecret.problems[0]?.code, 'ERR_BUMP_INVALID_RESOURCE');
  t.regex(noSecret.problems[0]?.message ?? '', /secretId is missing or empty/);
  t.is(noSecret.refs.length, 0);
});

test('invalid YAML is a problem of the whole file, with its line', (t) => {
  const parsed = parseBumpTargets('apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nspec:\n  a: [1, 2\n---\nkind: x\n');
  t.is(parsed.refs.length, 0);
  t.is(parsed.problems[0]?.code, 'ERR_BUMP_INVALID_YAML');
  t.truthy(parsed.problems[0]?.line);
  t.regex(parsed.problems[0]?.message ?? '', /^invalid YAML: /);
});

test('applyEdits splices from the original offsets and refuses overlaps', (t) => {
  t.is(applyEdits('abcdef', [{ start: 4, end: 5, text: 'E' }, { start: 0, end: 1, text: 'AA' }, { start: 3, end: 3, text: '+' }]), 'AAbc+dEf');
  t.throws(() => applyEdits('abcdef', [{ start: 0, end: 3, text: '' }, { start: 2, end: 4, text: '' }]), { message: /overlapping/ });
  t.throws(() => applyEdits('abc', [{ start: 2, end: 9, text: '' }]));
});

test('checkRewrite notices a rewrite that does not read back', (t) => {
  const { plan } = bump(FIXTURE, CURRENT);
  t.regex(checkRewrite(FIXTURE, FIXTURE, plan.changes) ?? '', /does not read back/);
  t.truthy(checkRewrite(FIXTURE, `${FIXTURE}\n  bad: [\n`, plan.changes));
});

test('a ref that aliases another shares its edit', (t) => {
  const text = 'apiVersion: piggysec.com/v1alpha1\nkind: AWSSecret\nmetadata: {name: a}\nspec:\n  stringDataFrom:\n    secretsManagerSecretRef: &ref\n      secretId: s\n      versionId: old\n  dataFrom:\n    secretsManagerSecretRef: *ref\n';
  const { after, plan, check } = bump(text, { s: NEW });
  t.is(after, text.replace('versionId: old', `versionId: ${NEW}`));
  t.deepEqual(plan.changes.map((c) => c.field), ['stringDataFrom', 'dataFrom']);
  t.is(plan.edits.length, 1);
  t.is(check, undefined);
});
