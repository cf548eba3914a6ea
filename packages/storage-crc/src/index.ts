export * from './upload.js';
export * from './tls.js';
export * from './token.js';
export * from './base.js';
export * from './crc.js';
export * from './crc-mutual.js';
export * from './version.js';
