// Test support: a real discoveryd on an ephemeral port, and HS256 tokens.
import type { ChildProcess } from "node:child_process";
import type { SaoLevel } from "./index.js";

export interface TokenClaims {
  sao: SaoLevel;
  /** Required for sapphire, opal and onyx. */
  company?: string;
  sub?: string;
  /** Default 3600. */
  ttlSeconds?: number;
}

export declare function trimSecret(bytes: Uint8Array): Buffer;
export declare function mintToken(secret: Uint8Array | string, claims: TokenClaims): string;
export declare function readSecretFile(path: string): Promise<Buffer>;

export interface TestDaemon {
  url: string;
  secret: Buffer;
  /** True when it is the daemon named by DISCOVERY_URL (not started here). */
  shared?: boolean;
  dataDir?: string;
  process?: ChildProcess;
  token(claims: TokenClaims): string;
  /** SIGTERM and wait; resolves with the exit code. A shared daemon is left running. */
  stop(): Promise<number | string | void>;
}

export interface StartOptions {
  /** Default $DISCOVERYD, else discoveryd on PATH. */
  binary?: string;
  /** Flags after the defaults (--listen 127.0.0.1:0 --storage memory ...), which they may override. */
  args?: string[];
  /** Use this data directory and keep it on stop() (default: a temporary one, removed). */
  dataDir?: string;
  startTimeout?: number;
}

export declare function startDaemon(options?: StartOptions): Promise<TestDaemon & { dataDir: string; process: ChildProcess }>;
export declare function daemonFromEnv(options?: StartOptions): Promise<TestDaemon>;
