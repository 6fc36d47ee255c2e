// Public face of src/autosp: peers known by name in advance.
export * from './peers-file';
export * from './resolve';
export * from './state';
export * from './keeper';
export * from './service';
