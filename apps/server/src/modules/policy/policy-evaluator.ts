import { Worker } from 'node:worker_threads';
import { evaluateYaml, type EvaluateOptions, type YamlEvaluation } from '@niro/policy';
import { NiroError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { isEvaluatorReply, type EvaluatorRequest } from './policy-evaluator.protocol.js';

/** What a build-time evaluation takes: the options that are plain data. */
export type EvaluationInput = {
  yaml: string;
  environment: EvaluateOptions['environment'];
  suppressions?: EvaluateOptions['suppressions'];
};

export type PolicyEvaluatorOptions = {
  /** Manifests up to this many characters are evaluated on the calling thread (default 64 Ki). */
  inlineBelow?: number;
  /** Evaluations waiting for the worker beyond the running one; more are refused with 429 (default 8). */
  maxQueued?: number;
  /** An evaluation running longer is stopped with its worker (default 30 s). */
  timeoutMs?: number;
  /** The worker exits after this long without work (default 60 s). */
  idleMs?: number;
};

type Pending = {
  request: EvaluatorRequest;
  resolve: (result: YamlEvaluation) => void;
  reject: (err: Error) => void;
};

/**
 * Build-time evaluation off the event loop. Two MiB of manifests take about a second to parse
 * and check; on the server's main thread that second would stall every heartbeat, command and
 * log stream of the fleet. Small inputs (what a deployment form or one CI file sends) run inline,
 * where the few milliseconds cost less than a hop to the worker; large ones queue for one worker
 * thread, started on first use and stopped when idle.
 */
export class PolicyEvaluator {
  private readonly inlineBelow: number;
  private readonly maxQueued: number;
  private readonly timeoutMs: number;
  private readonly idleMs: number;
  private worker: Worker | null = null;
  private running: (Pending & { timer: NodeJS.Timeout }) | null = null;
  private readonly queue: Pending[] = [];
  private idleTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly logger: Logger,
    options: PolicyEvaluatorOptions = {},
  ) {
    this.inlineBelow = options.inlineBelow ?? 64 * 1024;
    this.maxQueued = options.maxQueued ?? 8;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.idleMs = options.idleMs ?? 60_000;
  }

  evaluate(input: EvaluationInput): Promise<YamlEvaluation> {
    if (input.yaml.length < this.inlineBelow) {
      return Promise.resolve(
        evaluateYaml(input.yaml, { environment: input.environment, suppressions: input.suppressions ?? [] }),
      );
    }
    if (this.closed) return Promise.reject(new NiroError(503, 'unavailable', 'The server is shutting down'));
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new NiroError(429, 'busy', 'Too many large policy evaluations are waiting; retry in a few seconds'),
      );
    }
    return new Promise<YamlEvaluation>((resolve, reject) => {
      const request: EvaluatorRequest = {
        id: this.nextId++,
        yaml: input.yaml,
        environment: input.environment,
        suppressions: [...(input.suppressions ?? [])],
      };
      this.queue.push({ request, resolve, reject });
      this.next();
    });
  }

  /** Stops the worker; waiting evaluations fail. */
  async close(): Promise<void> {
    this.closed = true;
    const err = new NiroError(503, 'unavailable', 'The server is shutting down');
    for (const pending of this.queue.splice(0)) pending.reject(err);
    if (this.running !== null) {
      clearTimeout(this.running.timer);
      this.running.reject(err);
      this.running = null;
    }
    await this.stopWorker();
  }

  private next(): void {
    if (this.running !== null) return;
    const pending = this.queue.shift();
    if (pending === undefined) {
      this.scheduleIdleStop();
      return;
    }
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const worker = this.ensureWorker();
    const timer = setTimeout(() => this.timedOut(), this.timeoutMs);
    this.running = { ...pending, timer };
    worker.postMessage(pending.request);
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = startWorker();
    worker.unref();
    worker.on('message', (reply: unknown) => this.onReply(worker, reply));
    worker.on('error', (err) => this.onWorkerGone(worker, err));
    worker.on('exit', (code) => this.onWorkerGone(worker, new Error(`the policy worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private onReply(worker: Worker, reply: unknown): void {
    const running = this.running;
    if (worker !== this.worker || running === null || !isEvaluatorReply(reply) || reply.id !== running.request.id) {
      return;
    }
    clearTimeout(running.timer);
    this.running = null;
    if ('failure' in reply) {
      running.reject(new Error(reply.failure));
    } else {
      running.resolve({ findings: reply.findings, errors: reply.errors });
    }
    this.next();
  }

  /** The worker died (out of memory, say): the evaluation it ran fails, the next gets a new worker. */
  private onWorkerGone(worker: Worker, err: Error): void {
    if (worker !== this.worker) return;
    this.worker = null;
    const running = this.running;
    if (running !== null) {
      clearTimeout(running.timer);
      this.running = null;
      this.logger.warn({ err }, 'policy worker stopped during an evaluation');
      running.reject(err);
    }
    if (!this.closed) this.next();
  }

  private timedOut(): void {
    const running = this.running;
    if (running === null) return;
    this.running = null;
    this.logger.warn({ timeoutMs: this.timeoutMs }, 'policy evaluation timed out; restarting its worker');
    running.reject(
      new NiroError(400, 'manifest_too_complex', `The manifests could not be evaluated within ${this.timeoutMs} ms`, {
        fields: [{ field: 'body.yaml', message: 'takes too long to evaluate' }],
      }),
    );
    const worker = this.worker;
    this.worker = null;
    void worker?.terminate();
    this.next();
  }

  private scheduleIdleStop(): void {
    if (this.worker === null || this.idleTimer !== null) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.running === null && this.queue.length === 0) void this.stopWorker();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private async stopWorker(): Promise<void> {
    if (this.idleTimer !== null) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
  }
}

/**
 * The worker runs policy-evaluator.worker.js beside this module. From TypeScript sources (tests,
 * `npm run` scripts) it is loaded through tsx, and with the `@niro/source` condition so that
 * `@niro/policy` resolves to the same sources as here: Node 20 does not give a worker's entry the
 * parent's `--import` hooks.
 */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./policy-evaluator.worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry);
  const execArgv = process.execArgv.includes('--conditions=@niro/source')
    ? process.execArgv
    : [...process.execArgv, '--conditions=@niro/source'];
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`,
    { eval: true, execArgv },
  );
}
