/**
 * A background loop: run `task` after `firstDelayMs`, then `intervalMs` after each run ends (never
 * two runs at once), timers unref'd so they never keep the process alive. `stop()` waits for the
 * run in progress; `kick()` runs now when idle. A task's error is logged and the loop goes on.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly options: { intervalMs: number; firstDelayMs?: number; onError: (err: unknown) => void },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.options.firstDelayMs ?? Math.min(1000, this.options.intervalMs));
  }

  /** Run now unless a run is in progress (or the loop is stopped). */
  kick(): void {
    if (this.stopped || this.running !== undefined) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.task()
        .then(
          () => undefined,
          (err: unknown) => this.options.onError(err),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule(this.options.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }
}
