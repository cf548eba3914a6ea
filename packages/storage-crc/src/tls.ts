import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, errorMessage, registerSecret } from '@tally/core';

/** metrics-utility's default CA bundle (RHEL); used only when it exists and nothing else was given. */
export const DEFAULT_VERIFY_CERT_PATH = '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem';

/**
 * The CA bundle that verifies the ingress (and SSO) server. An explicit path must
 * exist; without one the RHEL bundle is used when present, else Node's own roots.
 */
export function loadCaBundle(verifyCertPath: string | undefined): { ca?: string; path?: string } {
  if (verifyCertPath) {
    let ca: string;
    try {
      ca = readFileSync(verifyCertPath, 'utf8');
    } catch (err) {
      throw new ConfigError(`CA bundle ${verifyCertPath} cannot be read (METRICS_UTILITY_CRC_VERIFY_CERT_PATH): ${errorMessage(err)}`, {
        field: 'METRICS_UTILITY_CRC_VERIFY_CERT_PATH',
      });
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(`CA bundle ${verifyCertPath} holds no PEM certificate (METRICS_UTILITY_CRC_VERIFY_CERT_PATH)`, {
        field: 'METRICS_UTILITY_CRC_VERIFY_CERT_PATH',
      });
    }
    return { ca, path: verifyCertPath };
  }
  if (existsSync(DEFAULT_VERIFY_CERT_PATH)) return { ca: readFileSync(DEFAULT_VERIFY_CERT_PATH, 'utf8'), path: DEFAULT_VERIFY_CERT_PATH };
  return {};
}

export interface ClientIdentity {
  cert: string;
  key: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

function read(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path} cannot be read (${field}): ${errorMessage(err)}`, { field });
  }
}

/**
 * The client certificate chain and key for mutual TLS, from two files or one PEM
 * holding both. Checked up front so a wrong path or a mismatched pair is a
 * configuration error rather than an opaque handshake failure.
 */
export function loadClientIdentity(certPath: string, keyPath?: string): ClientIdentity {
  const certText = read(certPath, 'METRICS_UTILITY_CRC_CERT_PATH');
  const keyText = keyPath && keyPath !== certPath ? read(keyPath, 'METRICS_UTILITY_CRC_KEY_PATH') : certText;
  const certs = certText.match(CERT_BLOCK);
  if (!certs?.length) {
    throw new ConfigError(`${certPath} holds no PEM certificate (METRICS_UTILITY_CRC_CERT_PATH)`, { field: 'METRICS_UTILITY_CRC_CERT_PATH' });
  }
  const keyMatch = KEY_BLOCK.exec(keyText);
  const keyWhere = keyPath && keyPath !== certPath ? `${keyPath} (METRICS_UTILITY_CRC_KEY_PATH)` : `${certPath} (no METRICS_UTILITY_CRC_KEY_PATH, so the key must be in the certificate file)`;
  const keyField = keyPath && keyPath !== certPath ? 'METRICS_UTILITY_CRC_KEY_PATH' : 'METRICS_UTILITY_CRC_CERT_PATH';
  if (!keyMatch) throw new ConfigError(`${keyWhere} holds no PEM private key`, { field: keyField });
  const key = keyMatch[0];
  registerSecret(key);
  if (keyMatch[1] === 'ENCRYPTED PRIVATE KEY') {
    throw new ConfigError(`${keyWhere}: the private key is encrypted; an unencrypted key is needed`, { field: keyField });
  }
  let matches: boolean;
  try {
    matches = new X509Certificate(certs[0]!).checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new ConfigError(`client certificate ${certPath} or its key cannot be parsed: ${errorMessage(err)}`, { field: keyField });
  }
  if (!matches) throw new ConfigError(`the private key in ${keyWhere} does not belong to the certificate in ${certPath}`, { field: keyField });
  return { cert: certs.join('\n'), key };
}
