// The piggy-env launcher (proxy, standalone and file modes) is delivered by the proxy/launcher
// issue; until then the entry point exists so the package's bin contract is fixed, and says so.
process.stderr.write('piggy-env: the launcher is not part of this build yet (see README, "Supported")\n');
process.exit(2);
