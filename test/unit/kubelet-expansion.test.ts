// The test kubelet's $(VAR) expansion (scripts/local/kubelet-expansion.ts) follows Kubernetes'
// documented rules, and the launcher's own expansion (src/shared/injection-contract.ts) agrees with it
// on every case: the launcher must expand a template exactly as the kubelet would have.
import test from 'ava';
import { expandKubeletReferences } from '../../scripts/local/kubelet-expansion.ts';
import { escapeKubernetesReferences, expandKubernetesReferences } from '../../src/shared/injection-contract.ts';

const VARS = new Map([
  ['GREETING', 'hello'],
  ['EMPTY', ''],
  ['DOLLAR', '$(GREETING)'],
]);

const CASES: readonly [string, string][] = [
  ['plain', 'plain'],
  ['$(GREETING) world', 'hello world'],
  ['$(GREETING)$(GREETING)', 'hellohello'],
  ['[$(EMPTY)]', '[]'],
  ['$(MISSING)', '$(MISSING)'],
  ['$$(GREETING)', '$(GREETING)'],
  ['$$$(GREETING)', '$hello'],
  ['$$$$', '$$'],
  ['cost: $5', 'cost: $5'],
  ['trailing $', 'trailing $'],
  ['$(unclosed', '$(unclosed'],
  ['$(DOLLAR)', '$(GREETING)'],
  ['echo "$HOME" $1', 'echo "$HOME" $1'],
];

for (const [input, expected] of CASES) {
  test(`kubelet expansion: ${JSON.stringify(input)} → ${JSON.stringify(expected)}`, (t) => {
    t.is(expandKubeletReferences(input, VARS), expected);
    t.is(expandKubernetesReferences(input, (name) => VARS.get(name)), expected, 'the launcher agrees');
  });
}

test('what the webhook escapes comes out of the kubelet verbatim', (t) => {
  for (const [input] of CASES) t.is(expandKubeletReferences(escapeKubernetesReferences(input), VARS), input);
});
