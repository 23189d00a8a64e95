import { processEnvironment } from './config/config.ts';

const USAGE = `usage: piggy <command>

commands:
  controller                run the controller (reconciler, webhook, proxy, metrics)
  bump [--check] [paths]    set AWSSecret versionIds to AWSCURRENT (--check: exit 1 if stale)
  help                      show this text
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'controller':
      return (await import('./main.ts')).runController();
    case 'bump':
      return (await import('./bump/run.ts')).runBump(rest, processEnvironment(), { stdout: process.stdout, stderr: process.stderr });
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`piggy: unknown command ${JSON.stringify(command ?? '')}\n${USAGE}`);
      return 2;
  }
}

// Pipes and files are written synchronously on Linux, so exiting here loses no log line.
process.exit(await main(process.argv.slice(2)));
