export { CrcStorage, type CrcOptions, DEFAULT_SSO_URL } from './crc.js';
export { CrcMutualStorage, type CrcMutualOptions, DEFAULT_CLIENT_CERT_PATH, DEFAULT_CLIENT_KEY_PATH } from './crc-mutual.js';
export type { IngressOptions } from './base.js';
export { DEFAULT_INGRESS_URL, PAYLOAD_CONTENT_TYPE, type Timeouts } from './upload.js';
export { DEFAULT_VERIFY_CERT_PATH } from './tls.js';
export { type IngressAuth, type IngressSettings, IngressSink, parseIngressSettings, readIngressSettings, xRhIdentity } from './ingress.js';
export { DataSetSink, type DataSetOptions, PushError, type PushResult, pushRecords } from './data-set.js';
