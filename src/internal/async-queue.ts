/**
 * A bounded queue between one producer and one consumer of chunks: `push` waits while the queue is full,
 * the consumer iterates it. After `stop()` (the consumer has had enough) pushes are dropped at once.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private ended = false;
  private failure: unknown;
  private stopped = false;
  private wakeConsumer?: () => void;
  private wakeProducer?: () => void;

  constructor(private readonly limit = 8) {}

  async push(item: T): Promise<void> {
    if (this.stopped) return;
    this.items.push(item);
    this.wakeConsumer?.();
    while (this.items.length >= this.limit && !this.stopped) {
      await new Promise<void>((r) => (this.wakeProducer = r));
    }
  }

  end(error?: unknown): void {
    this.ended = true;
    this.failure = error;
    this.wakeConsumer?.();
  }

  /** The consumer will read no more: release the producer and drop what comes. */
  stop(): void {
    this.stopped = true;
    this.items = [];
    this.wakeProducer?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.items.length > 0) {
          const item = this.items.shift()!;
          this.wakeProducer?.();
          yield item;
          continue;
        }
        if (this.ended) {
          if (this.failure !== undefined) throw this.failure;
          return;
        }
        await new Promise<void>((r) => (this.wakeConsumer = r));
      }
    } finally {
      this.stop();
    }
  }
}
