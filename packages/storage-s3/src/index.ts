export { type ChecksumMode, type S3Options, S3Storage } from './s3.js';
