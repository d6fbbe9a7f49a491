// Alert delivery against a sink that redirects, over real loopback sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startRecordingServer, startRedirector } from '../../test/helpers/recording-http.js';
import { AlertDispatcher } from './alerts.js';

describe('alert delivery', () => {
  it('a sink that redirects gets one attempt; the signed body is not sent to the redirect target', async () => {
    const elsewhere = await startRecordingServer((_req, res) => res.end());
    const sink = await startRedirector(elsewhere.origin, 302);
    try {
      const dispatcher = new AlertDispatcher([], { backoffMs: 1 });
      const config = {
        name: 'hook',
        type: 'webhook' as const,
        url: `${sink.origin}/hook`,
        secret: 'webhook-signing-secret',
        minSeverity: 'low' as const,
        retries: 3,
        timeoutMs: 2000,
      };
      const result = await dispatcher.deliver(config, { inventory: 'lab', runId: null, test: true, alerts: [] });
      assert.deepEqual(result, { sink: 'hook', ok: false, attempts: 1, status: 302 });
      assert.equal(sink.requests.length, 1);
      assert.equal(elsewhere.requests.length, 0);
    } finally {
      await sink.close();
      await elsewhere.close();
    }
  });
});
