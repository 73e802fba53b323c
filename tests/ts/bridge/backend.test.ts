import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BackendCallError, callBackend, closeBackend } from '../../../ts/bridge/backend.ts';
import { runJob, JobError } from '../../../ts/bridge/jobs.ts';

test.after(async () => {
  await closeBackend();
});

test('ping reports torch and numpy', async () => {
  const ping = await callBackend<{ torch: string; numpy: string }>('bridge:ping', {}, { timeoutMs: 120_000 });
  assert.match(ping.torch, /^\d+\.\d+/);
  assert.match(ping.numpy, /^\d+\.\d+/);
});

test('non-finite floats survive the bridge', async () => {
  const nan = await callBackend<{ value: number }>('bridge:echo_float', { text: 'nan' });
  const inf = await callBackend<{ value: number }>('bridge:echo_float', { text: '-inf' });
  assert.ok(Number.isNaN(nan.value));
  assert.is(inf.value, Number.NEGATIVE_INFINITY);
});

test('python exception arrives with type and message', async () => {
  try {
    await callBackend('bridge:echo_float', { text: 'abc' });
    assert.unreachable('the call should fail');
  } catch (error) {
    assert.instance(error, BackendCallError);
    const callError = error as BackendCallError;
    assert.is(callError.pythonType, 'ValueError');
    assert.match(callError.message, /could not convert string to float: 'abc'/);
    assert.match(callError.traceback, /Traceback/);
  }
});

test('unmarked function is rejected', async () => {
  try {
    await callBackend('bridge:resolve_entry', { entry: 'x:y' });
    assert.unreachable('the call should fail');
  } catch (error) {
    assert.match((error as Error).message, /is not a backend entry point/);
  }
});

test('job reports failure of a missing job', async () => {
  try {
    await runJob('bridge:ping', {}, { stderr: 'ignore' });
    assert.unreachable('the job should fail');
  } catch (error) {
    assert.instance(error, JobError);
    assert.match((error as Error).message, /is not a backend job/);
  }
});

test.run();
