// The workspace's view of the SDK (one import path for the app).
export * from '../../sdk/src';
