import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { checkPageBody, pageStatusProblem } from '../../src/streams/http/page-status.js';

const L = 'GET /v3/trades/X';

describe('pageStatusProblem', () => {
  it('OK and DELAYED pages with results are data', () => {
    for (const status of ['OK', 'DELAYED']) {
      expect(pageStatusProblem({ status, hasResults: true, resultsCount: undefined, kind: 'v3', label: L })).toBeUndefined();
    }
  });
  it('any other status is a retryable protocol error naming the status and the server text', () => {
    const e = pageStatusProblem({ status: 'ERROR', hasResults: false, resultsCount: undefined, kind: 'v3', label: L, detail: 'boom' });
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e!.retryable).toBe(true);
    expect(e!.message).toBe('GET /v3/trades/X: HTTP 200 with status "ERROR": boom');
    expect(pageStatusProblem({ status: 'NOT_AUTHORIZED', hasResults: true, resultsCount: 3, kind: 'aggregates', label: L })).toBeInstanceOf(ProtocolError);
  });
  it('a v3 page without results is not data; an aggregates reply with resultsCount 0 is an empty day', () => {
    expect(pageStatusProblem({ status: 'OK', hasResults: false, resultsCount: undefined, kind: 'v3', label: L })!.message).toMatch(/no "results"/);
    expect(pageStatusProblem({ status: 'OK', hasResults: false, resultsCount: 0, kind: 'aggregates', label: L })).toBeUndefined();
    expect(pageStatusProblem({ status: 'OK', hasResults: false, resultsCount: 5, kind: 'aggregates', label: L })).toBeInstanceOf(ProtocolError);
    expect(pageStatusProblem({ status: undefined, hasResults: false, resultsCount: 0, kind: 'aggregates', label: L })).toBeInstanceOf(ProtocolError);
  });
  it('checkPageBody reads the facts from a parsed body', () => {
    expect(checkPageBody({ status: 'OK', results: [] }, 'v3', L)).toBeUndefined();
    expect(checkPageBody({ status: 'OK', results: null }, 'v3', L)).toBeInstanceOf(ProtocolError);
    expect(checkPageBody({ status: 'OK', resultsCount: 0 }, 'aggregates', L)).toBeUndefined();
    expect(checkPageBody([1], 'v3', L)!.message).toMatch(/not a JSON object/);
    expect(checkPageBody({ status: 'ERROR', message: 'bad' }, 'v3', L)!.message).toMatch(/"ERROR": bad/);
  });
});
