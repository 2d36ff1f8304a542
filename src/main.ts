// Process entry: dispatch the subcommand; the only place that chooses an exit code.

import { DiscoveryError } from './platform/errors.ts';
import { serve } from './cli/serve.ts';
import * as ops from './cli/commands.ts';
import { preflight } from './cli/preflight.ts';

const HELP = `discovery — Consul-compatible discovery that moves services to Istio one at a time

usage:
  discovery serve [--config FILE] [--http-addr H:P] [--dns-addr H:P] [--admin-addr H:P]
                  [--consul-snapshot FILE] [--kube-snapshot FILE] [--state-dir DIR] [--datacenter DC] ...
  discovery killswitch on --reason TEXT | off [--reason TEXT] | status
  discovery killswitch on|off --local --reason TEXT | clear --local   (this replica only, over the shared mode)
  discovery mode hybrid|shadow [--local] [--reason TEXT]
  discovery status [-o text|json]
  discovery pin SERVICE [--caller NAMESPACE/WORKLOAD] --reason TEXT
  discovery unpin SERVICE [--caller NAMESPACE/WORKLOAD]
  discovery explain SERVICE --from CALLER_IP [-o text|json]
  discovery audit [--limit N] [-o text|json]
  discovery sidecars [--namespace NS] [-o yaml|json]
  discovery preflight [--config FILE] [flags as for serve] [--timeout 30s] [-o text|json]
                  (checks the live upstreams; exit 3 when a check is a blocker)

Operator commands talk to the admin API: --admin-addr or DISCOVERY_ADMIN_ADDR (default 127.0.0.1:8580),
with DISCOVERY_ADMIN_TOKEN as bearer token when one is set.
`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  const io: ops.Io = { out: (t) => process.stdout.write(t), env: process.env };
  switch (cmd) {
    case 'serve':
      return serve(rest, process.env);
    case 'killswitch':
      return ops.killswitch(rest, io);
    case 'mode':
      return ops.mode(rest, io);
    case 'status':
      return ops.status(rest, io);
    case 'pin':
      return ops.pin(rest, io, false);
    case 'unpin':
      return ops.pin(rest, io, true);
    case 'explain':
      return ops.explainCmd(rest, io);
    case 'audit':
      return ops.audit(rest, io);
    case 'sidecars':
      return ops.sidecars(rest, io);
    case 'preflight':
      process.exitCode = await preflight(rest, io);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    default:
      throw new DiscoveryError('DSC_ERR_BAD_REQUEST', `unknown command "${cmd}"\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof DiscoveryError) {
    process.stderr.write(`discovery: ${err.message}\n`);
    process.exit(err.code === 'DSC_ERR_BAD_REQUEST' || err.code === 'DSC_ERR_CONFIG' ? 2 : 1);
  }
  process.stderr.write(`discovery: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
