import { runController } from './main.ts';

const USAGE = `usage: piggy <command>

commands:
  controller   run the controller (reconciler, webhook, proxy, metrics)
  help         show this text
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'controller':
      return runController();
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
