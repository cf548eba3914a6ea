export { type ChunkInfo, chunkDict, maxChunkSize, SEGMENT_MESSAGE_LIMIT, type SegmentMeta } from './chunk.js';
export { SEGMENT_SDK_ENVELOPE, SegmentClient, type SegmentClientOptions, type SegmentTrack, trackEventSize } from './client.js';
export { DEFAULT_SEGMENT_EVENT, SEGMENT_ACCEPTS, type SegmentOptions, type SegmentPutResult, type SegmentPutSource, SegmentStorage } from './segment.js';
