/**
 * Separate "hosts" on one machine for tests: network namespaces (`ip netns`) joined by a bridge
 * that lives in the first one (the servers' host), one veth pair per host. No namespace has a
 * default route, so a process inside reaches only the other hosts' addresses and its own loopback.
 * The test process itself stays in the root namespace and joins the bridge through one more veth
 * pair, as the user's machine. Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

export interface NetHost {
  /** The namespace's name (`ip netns list`). */
  ns: string;
  /** Its address on the bridge. */
  address: string;
  /** Prefix of a command to run it inside the namespace (`ip netns exec` execs it: same pid). */
  launcher: string[];
}

export interface HostNetwork {
  /** The servers' host: the bridge's address. */
  servers: NetHost;
  /** The other hosts, in the order of the names given. */
  hosts: NetHost[];
  /** The test process's own address on the bridge (root namespace). */
  clientAddress: string;
  /** Deletes the namespaces and links; never throws, safe to call twice. */
  remove(): void;
}

/** Why namespaces cannot be made here, or undefined when they can (adds and deletes a probe). */
export function netnsProblem(): string | undefined {
  const probe = `dfit-probe-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    return `\`ip netns add\` is not permitted here (needs root with CAP_NET_ADMIN and iproute2): ${message(err)}`;
  }
  quietly(() => ip('netns', 'del', probe));
  return undefined;
}

/**
 * Creates the servers' namespace and one per host name, with names unique to this run
 * (`dfit-<tag>-servers`, `dfit-<tag>-<name>`) on a free 10.77.N.0/24. Removes what it made if a step fails.
 */
export function createHostNetwork(hostNames: string[]): HostNetwork {
  const tag = process.pid.toString(36) + crypto.randomBytes(2).toString('hex').slice(0, 3);
  const subnet = freeSubnet();
  const nsNames = [`dfit-${tag}-servers`, ...hostNames.map((name) => `dfit-${tag}-${name}`)];
  const clientLink = `df${tag}c`;
  const made: string[] = [];
  const remove = () => {
    for (const ns of made.splice(0)) quietly(() => ip('netns', 'del', ns));
    // Gone with its peer when the servers' namespace went; left only if that step never ran.
    if (linkExists(clientLink)) quietly(() => ip('link', 'del', clientLink));
  };
  const hostOf = (ns: string, octet: number): NetHost => ({
    ns,
    address: `${subnet}.${octet}`,
    launcher: ['ip', 'netns', 'exec', ns],
  });
  try {
    for (const ns of nsNames) {
      ip('netns', 'add', ns);
      made.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    const servers = nsNames[0] as string;
    ip('-n', servers, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', servers, 'addr', 'add', `${subnet}.1/24`, 'dev', 'br0');
    ip('-n', servers, 'link', 'set', 'br0', 'up');
    nsNames.slice(1).forEach((ns, i) => {
      const [inner, outer] = [`df${tag}h${i}`, `df${tag}s${i}`];
      ip('link', 'add', inner, 'type', 'veth', 'peer', 'name', outer);
      plug(servers, outer);
      ip('link', 'set', inner, 'netns', ns);
      ip('-n', ns, 'link', 'set', inner, 'name', 'eth0');
      ip('-n', ns, 'addr', 'add', `${subnet}.${i + 2}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
    });
    ip('link', 'add', clientLink, 'type', 'veth', 'peer', 'name', `${clientLink}s`);
    plug(servers, `${clientLink}s`);
    ip('addr', 'add', `${subnet}.254/24`, 'dev', clientLink);
    ip('link', 'set', clientLink, 'up');
    return {
      servers: hostOf(servers, 1),
      hosts: nsNames.slice(1).map((ns, i) => hostOf(ns, i + 2)),
      clientAddress: `${subnet}.254`,
      remove,
    };
  } catch (err) {
    remove();
    throw new Error(`could not build the test's host network: ${message(err)}`, { cause: err });
  }
}

/** Moves a veth end into the servers' namespace and onto its bridge. */
function plug(servers: string, link: string): void {
  ip('link', 'set', link, 'netns', servers);
  ip('-n', servers, 'link', 'set', link, 'master', 'br0', 'up');
}

/** A 10.77.N prefix that no address or route of the root namespace uses (another run may hold one). */
function freeSubnet(): string {
  const used = ip('-4', '-o', 'addr') + ip('-4', 'route');
  for (let i = 0; i < 254; i++) {
    const prefix = `10.77.${1 + ((process.pid + i) % 254)}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.77.N.0/24 subnet: remove leftover dfit-* links (`ip link`)');
}

function linkExists(name: string): boolean {
  try {
    ip('link', 'show', name);
    return true;
  } catch {
    return false;
  }
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quietly(action: () => unknown): void {
  try {
    action();
  } catch {
    // cleanup goes on with the next item
  }
}

function message(err: unknown): string {
  const stderr = (err as { stderr?: string }).stderr?.trim();
  return stderr || (err instanceof Error ? err.message : String(err));
}
