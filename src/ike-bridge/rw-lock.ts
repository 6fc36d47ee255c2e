// The lock the strongSwan engine's jobs share (moved out of strongswan.ts): installs and removals read,
// a trust rotation, an identity key change or putting back what a foreign reload removed writes, so
// such a rebuild never loads a conn between a removal's unbind and its unload.

/** Readers (installs) run together; a writer (trust rebuild) runs alone. */
export class RwLock {
  private readers = 0;
  private writer: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0 && this.drained) this.drained();
    }
  }
  async write<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await this.writer;
    let release!: () => void;
    this.writer = new Promise<void>((r) => (release = r));
    try {
      if (this.readers > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = null;
      return await fn();
    } finally {
      this.writer = null;
      release();
    }
  }
}
