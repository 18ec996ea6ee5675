/** `durable-fit codec-server`: decrypts payloads for the Temporal Web UI and `temporal --codec-endpoint`. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveOptions } from '../config/options';
import { AesGcmPayloadCodec } from '../security/codec';
import { DEFAULT_CODEC_PORT, DEFAULT_UI_ORIGINS, startCodecServer } from '../security/codec-server';
import { loadEncryptionKeys } from '../security/keys';
import { fail } from './common';

interface CodecServerFlags {
  port: number;
  host: string;
  uiOrigin?: string[];
  authToken?: string;
  keysFile?: string;
}

export function codecServerCommand(): Command {
  return new Command('codec-server')
    .description('serve /decode and /encode so the Temporal Web UI shows encrypted payloads in clear')
    .addOption(
      new Option('--port <port>', 'port to listen on').default(DEFAULT_CODEC_PORT).argParser(parsePort),
    )
    .addOption(
      new Option('--host <address>', 'address to listen on (keep it local or behind TLS)').default(
        '127.0.0.1',
      ),
    )
    .addOption(
      new Option(
        '--ui-origin <url...>',
        `browser origins allowed by CORS (default ${DEFAULT_UI_ORIGINS.join(' ')})`,
      )
        .env('DFIT_CODEC_UI_ORIGINS')
        .argParser(collectOrigins),
    )
    .addOption(
      new Option(
        '--auth-token <token>',
        'require "Authorization: Bearer <token>" on /decode and /encode',
      ).env('DFIT_CODEC_AUTH_TOKEN'),
    )
    .addOption(
      new Option('--keys-file <file>', 'the encryption keys (JSON or id=base64 lines)').env(
        'DFIT_ENCRYPTION_KEYS_FILE',
      ),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ DFIT_ENCRYPTION_KEYS_FILE=~/.config/durable-fit/keys durable-fit codec-server\n' +
        '  $ durable-fit stack up --codec-endpoint http://127.0.0.1:8888\n' +
        '  $ temporal workflow show -w <run> --codec-endpoint http://127.0.0.1:8888\n\n' +
        'Every key decrypts; the keys never leave this process (docs/security.md).',
    )
    .action(async (flags: CodecServerFlags) => {
      try {
        const options = resolveOptions(
          process.env,
          flags.keysFile ? { encryptionKeysFile: flags.keysFile } : {},
        );
        const keys = loadEncryptionKeys({ file: options.encryptionKeysFile, inline: options.encryptionKeys });
        if (!keys)
          throw new Error(
            'no encryption keys: set DFIT_ENCRYPTION_KEYS_FILE (or --keys-file, or DFIT_ENCRYPTION_KEYS) to the keys the workers use',
          );
        const server = await startCodecServer({
          codec: new AesGcmPayloadCodec(keys),
          port: flags.port,
          host: flags.host,
          origins: flags.uiOrigin ?? DEFAULT_UI_ORIGINS,
          ...(flags.authToken ? { authToken: flags.authToken } : {}),
        });
        process.stderr.write(
          `durable-fit codec server on ${server.url} (keys ${keys.map((k) => k.id).join(', ')}; ` +
            `UI origins ${(flags.uiOrigin ?? DEFAULT_UI_ORIGINS).join(', ')}` +
            `${flags.authToken ? '; bearer token required' : ''})\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
      } catch (err) {
        fail(err);
      }
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port number (0-65535)`);
  return port;
}

/** Repeated flags and a comma-separated env value both become one list of origins. */
function collectOrigins(value: string, previous: string[] | undefined): string[] {
  const origins = value
    .split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  for (const origin of origins)
    if (!/^https?:\/\/[^/]+$/.test(origin))
      throw new InvalidArgumentError(`"${origin}" is not an origin like http://127.0.0.1:8233`);
  return [...(previous ?? []), ...origins];
}
