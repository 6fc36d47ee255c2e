// Public face of src/peers: the registry of wanted peers and its sync to an Engine.
export * from './registry';
export * from './sync';
