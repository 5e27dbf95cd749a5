/**
 * What every property test of a parser promises: bad input ends in a coded ShaleError, never in another
 * exception (a TypeError or RangeError is a bug) and never in a long run. Runs are seeded, so CI sees the
 * same cases every time; FUZZ_SEED and FUZZ_RUNS explore further by hand.
 */
import assert from 'node:assert/strict';
import type { Parameters as FcParameters } from 'fast-check';
import { ShaleError, type ErrorCode } from './errors.js';

/** fast-check parameters: a fixed seed and a bounded number of runs (FUZZ_SEED / FUZZ_RUNS override them). */
export function fuzzParameters<T>(numRuns: number): FcParameters<T> {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261205;
  return { seed, numRuns: Number(process.env.FUZZ_RUNS ?? numRuns), endOnFailure: true };
}

/** Longest a single parse of generated input may take. */
export const PARSE_BUDGET_MS = 1000;

/** Checks an error is a ShaleError with one of `codes`; anything else fails with the error itself. */
export function assertCodedError(e: unknown, codes: readonly ErrorCode[]): void {
  if (!(e instanceof ShaleError)) throw e;
  assert.ok(codes.includes(e.code), `unexpected code ${e.code}: ${e.message}`);
}

/** Runs `fn`; it must return or throw a coded error, within the time budget. */
export function expectParsedOrRefused<T>(fn: () => T, codes: readonly ErrorCode[]): T | undefined {
  const start = performance.now();
  try {
    return fn();
  } catch (e) {
    assertCodedError(e, codes);
    return undefined;
  } finally {
    const ms = performance.now() - start;
    assert.ok(ms < PARSE_BUDGET_MS, `took ${ms.toFixed(0)} ms`);
  }
}

/** The async form of `expectParsedOrRefused`. */
export async function expectParsedOrRefusedAsync<T>(fn: () => Promise<T>, codes: readonly ErrorCode[]): Promise<T | undefined> {
  const start = performance.now();
  try {
    return await fn();
  } catch (e) {
    assertCodedError(e, codes);
    return undefined;
  } finally {
    const ms = performance.now() - start;
    assert.ok(ms < PARSE_BUDGET_MS, `took ${ms.toFixed(0)} ms`);
  }
}
