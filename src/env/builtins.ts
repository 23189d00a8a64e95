/**
 * Node built-ins the launcher loads on first use instead of at start: requiring node:https (and
 * with it tls, http, net, stream) costs ~20 ms, node:fs/promises and node:crypto a few more, and a
 * container whose env has no `piggy:` reference needs none of them. Static imports would all run
 * when the single-file bundle starts; process.getBuiltinModule defers them to the call.
 */
export const builtins = {
  fs: () => process.getBuiltinModule('node:fs/promises'),
  crypto: () => process.getBuiltinModule('node:crypto'),
  http: () => process.getBuiltinModule('node:http'),
  https: () => process.getBuiltinModule('node:https'),
  tls: () => process.getBuiltinModule('node:tls'),
};
