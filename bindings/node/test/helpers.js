// Shared by the tests: the daemon binary, and a registration body.
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

// Default: the dev build of this repository.
export const DISCOVERYD =
  process.env.DISCOVERYD ?? fileURLToPath(new URL("../../../build/dev/apps/discoveryd/discoveryd", import.meta.url));

export const uniq = (prefix = "n") => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A valid registration; `fields` replace top-level members. */
export function registration(company, fields = {}) {
  return {
    companyName: company,
    instanceId: uniq(company),
    serviceInfo: {
      version: "1.0.0",
      capabilities: ["tools"],
      region: "us-west1",
      environment: "production",
      endpoints: { primary: `https://mcp.${company}.example.com` },
    },
    tags: [],
    ...fields,
  };
}

/** The next value of an async iterator, or a failure after `ms`. */
export async function nextWithin(iterator, ms = 10_000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch event within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
