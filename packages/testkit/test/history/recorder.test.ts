// Proves HistoryRecorder and the JSONL form: ops get ids in invocation order and times from the
// injected clock; ok/fail/info record what the campaign saw (a read's value, a readAll's list, the
// error); ops still pending when the history is taken count as info; misuse (a second op on a busy
// process, reuse of a process retired by info, completing twice, a clock going backwards) throws
// and leaves the op pending;
// JSONL round-trips any well-formed history (a fast-check property) and names the bad line of a
// malformed one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, InvalidHistoryError, historyToJsonl, type HistoryOp } from '../../src/history/index.js';

function steppingClock(stepUs = 10): () => number {
  let nowUs = 0;
  return () => (nowUs += stepUs);
}

describe('HistoryRecorder', () => {
  it('records invocations and outcomes with the injected clock', () => {
    const recorder = new HistoryRecorder(steppingClock());
    const write = recorder.invoke(1, 'write', 'k', 'v1');
    const read = recorder.invoke(2, 'read', 'k');
    recorder.ok(write);
    recorder.ok(read, { value: 'v1' });
    const append = recorder.invoke(1, 'append', 'list', 'e1');
    const readAll = recorder.invoke(2, 'readAll', 'list');
    recorder.fail(append, 'READONLY replica');
    recorder.info(readAll, 'timeout');
    expect(recorder.ops()).toEqual<HistoryOp[]>([
      { id: 0, process: 1, kind: 'write', key: 'k', value: 'v1', invokeUs: 10, completeUs: 30, result: 'ok' },
      { id: 1, process: 2, kind: 'read', key: 'k', value: 'v1', invokeUs: 20, completeUs: 40, result: 'ok' },
      { id: 2, process: 1, kind: 'append', key: 'list', value: 'e1', invokeUs: 50, completeUs: 70, result: 'fail', error: 'READONLY replica' },
      { id: 3, process: 2, kind: 'readAll', key: 'list', value: null, invokeUs: 60, completeUs: null, result: 'info', error: 'timeout' },
    ]);
  });

  it('records a missing key as null and a readAll list as a copy', () => {
    const recorder = new HistoryRecorder(steppingClock());
    const read = recorder.invoke(1, 'read', 'k');
    recorder.ok(read, { value: null });
    const list = ['a', 'b'];
    const readAll = recorder.invoke(1, 'readAll', 'l');
    recorder.ok(readAll, { values: list });
    list.push('c');
    expect(recorder.ops().map((op) => [op.value, op.values])).toEqual([
      [null, undefined],
      [null, ['a', 'b']],
    ]);
  });

  it('counts ops still pending as info, without changing them', () => {
    const recorder = new HistoryRecorder(steppingClock());
    const id = recorder.invoke(1, 'write', 'k', 'v');
    expect(recorder.ops()[0]).toMatchObject({ result: 'info', completeUs: null, error: 'still pending when the history was taken' });
    recorder.ok(id);
    expect(recorder.ops()[0]).toMatchObject({ result: 'ok', completeUs: 20 });
  });

  it('defaults to a monotonic microsecond clock', () => {
    const recorder = new HistoryRecorder();
    recorder.ok(recorder.invoke(1, 'write', 'k', 'v'));
    const [op] = recorder.ops();
    expect(op!.completeUs!).toBeGreaterThanOrEqual(op!.invokeUs);
  });

  it('throws on misuse', () => {
    const recorder = new HistoryRecorder(steppingClock());
    const first = recorder.invoke(1, 'write', 'k', 'v1');
    expect(() => recorder.invoke(1, 'read', 'k')).toThrow(/already has an op outstanding/);
    recorder.info(first, 'timeout');
    expect(() => recorder.invoke(1, 'read', 'k')).toThrow(/new process id/);
    expect(() => recorder.ok(first)).toThrow(/already completed/);
    expect(() => recorder.fail(99, 'x')).toThrow(/no op 99/);
    expect(() => recorder.invoke(2, 'write', 'k')).toThrow(/needs a value/);
    const readAll = recorder.invoke(3, 'readAll', 'l');
    expect(() => recorder.ok(readAll)).toThrow(/without values/);
    // A refused completion leaves the op pending: the caller can still record what happened.
    recorder.info(readAll, 'client error');
    expect(recorder.ops()[1]).toMatchObject({ kind: 'readAll', result: 'info', error: 'client error' });
  });

  it('throws when the clock goes backwards', () => {
    const times = [10, 5];
    const recorder = new HistoryRecorder(() => times.shift() ?? 0);
    const id = recorder.invoke(1, 'write', 'k', 'v');
    expect(() => recorder.ok(id)).toThrow(/backwards/);
    expect(recorder.ops()[0]).toMatchObject({ result: 'info', completeUs: null });
  });
});

describe('JSONL', () => {
  const opArbitrary = fc
    .record({
      process: fc.nat(20),
      kind: fc.constantFrom<HistoryOp['kind']>('read', 'write', 'append', 'readAll'),
      key: fc.string(),
      value: fc.string(),
      values: fc.array(fc.string(), { maxLength: 4 }),
      invokeUs: fc.double({ min: 0, max: 1e9, noNaN: true }).map(Math.abs), // no -0: JSON has none
      durationUs: fc.double({ min: 0, max: 1e6, noNaN: true }).map(Math.abs),
      result: fc.constantFrom<HistoryOp['result']>('ok', 'fail', 'info'),
      error: fc.option(fc.string(), { nil: undefined }),
    })
    .map((draft): Omit<HistoryOp, 'id'> => {
      const writes = draft.kind === 'write' || draft.kind === 'append';
      const op: Omit<HistoryOp, 'id'> = {
        process: draft.process,
        kind: draft.kind,
        key: draft.key,
        value: writes || draft.kind === 'read' ? draft.value : null,
        invokeUs: draft.invokeUs,
        completeUs: draft.result === 'info' ? null : draft.invokeUs + draft.durationUs,
        result: draft.result,
      };
      if (draft.kind === 'readAll' && draft.result === 'ok') op.values = draft.values;
      if (draft.error !== undefined) op.error = draft.error;
      return op;
    });

  it('property: fromJsonl(toJsonl(ops)) equals ops', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 20 }), (drafts) => {
        const ops = drafts.map((draft, id) => ({ id, ...draft }));
        const text = historyToJsonl(ops);
        expect(text.split('\n')).toHaveLength(ops.length + 1);
        expect(HistoryRecorder.fromJsonl(text)).toEqual(ops);
      }),
    );
  });

  it('round-trips a recorder, skipping blank lines', () => {
    const recorder = new HistoryRecorder(steppingClock());
    recorder.ok(recorder.invoke(1, 'readAll', 'l'), { values: ['a', 'é"\n'] });
    recorder.invoke(2, 'write', 'k', 'v');
    expect(HistoryRecorder.fromJsonl(`\n${recorder.toJsonl()}\n\n`)).toEqual(recorder.ops());
  });

  it.each([
    ['not JSON', '{"id":0', /line 1: not JSON/],
    ['not an object', '[1]', /line 1: not a JSON object/],
    ['missing fields', '{"id":0}', /op 0: process must be an integer/],
    ['unknown kind', '{"id":0,"process":1,"kind":"cas","key":"k","value":null,"invokeUs":0,"completeUs":1,"result":"ok"}', /unknown kind/],
    ['ok without completion', '{"id":0,"process":1,"kind":"read","key":"k","value":null,"invokeUs":0,"result":"ok"}', /completeUs/],
    ['bad values', '{"id":0,"process":1,"kind":"readAll","key":"k","value":null,"values":[1],"invokeUs":0,"completeUs":1,"result":"ok"}', /values/],
  ])('rejects %s with InvalidHistoryError', (_name, text, message) => {
    expect(() => HistoryRecorder.fromJsonl(`\n${text}`.trimStart())).toThrow(InvalidHistoryError);
    expect(() => HistoryRecorder.fromJsonl(text)).toThrow(message);
  });
});
