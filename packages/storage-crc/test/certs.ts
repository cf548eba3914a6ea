import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Certificate and key in one PEM file. */
  clientCombined: string;
  /** A client certificate from another CA the server does not trust. */
  otherClientCert: string;
  otherClientKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function ca(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function leaf(dir: string, name: string, caName: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-days', '2',
    '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

/** A CA, a server certificate for 127.0.0.1 and client certificates, made with openssl in `dir`. */
export function makePki(dir: string): TestPki {
  ca(dir, 'test-ca');
  ca(dir, 'other-ca');
  leaf(dir, 'server', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf(dir, 'collector-01', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf(dir, 'intruder', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const combined = join(dir, 'combined.pem');
  writeFileSync(combined, readFileSync(join(dir, 'collector-01.crt'), 'utf8') + readFileSync(join(dir, 'collector-01.key'), 'utf8'));
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p('test-ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('collector-01.crt'),
    clientKey: p('collector-01.key'),
    clientCombined: combined,
    otherClientCert: p('intruder.crt'),
    otherClientKey: p('intruder.key'),
  };
}
