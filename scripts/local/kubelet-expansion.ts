// The kubelet's $(VAR) expansion of env values, command and args, for the scripts and tests that play
// the kubelet (scripts/demo/step-launch.ts, test/helpers/kubelet.ts). Written apart from
// src/shared/injection-contract.ts on purpose: a second implementation that the launcher's must agree with.

/** The kubelet's $(VAR) expansion: `$$` → `$`, `$(NAME)` → its value when defined, else kept as written. */
export function expandKubeletReferences(text: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charAt(index);
    if (char !== '$' || index + 1 >= text.length) {
      out += char;
      continue;
    }
    const next = text.charAt(index + 1);
    if (next === '$') {
      out += '$';
      index += 1;
    } else if (next === '(') {
      const close = text.indexOf(')', index + 2);
      if (close === -1) {
        out += text.slice(index);
        break;
      }
      const name = text.slice(index + 2, close);
      out += vars.get(name) ?? `$(${name})`;
      index = close;
    } else {
      out += '$';
    }
  }
  return out;
}
