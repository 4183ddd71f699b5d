import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { acquireDiscardable, ConnectionScope, currentScope, runInScope } from './connection-scope.js';

describe('connection scopes', () => {
  it('keep each run its own scope across awaits while others start and end, and work again once all ended', async () => {
    const a = new ConnectionScope(1);
    const b = new ConnectionScope(2);
    let releaseA!: () => void;
    const aWaits = new Promise<void>((resolve) => (releaseA = resolve));
    const seenInA: (ConnectionScope | undefined)[] = [];
    const runA = runInScope(a, async () => {
      seenInA.push(currentScope());
      await aWaits;
      await nextTurn();
      seenInA.push(currentScope());
      // An acquisition nested in the scope ends before the scope does.
      await acquireDiscardable(async () => {
        await nextTurn();
        return 'connection';
      });
      seenInA.push(currentScope());
    });
    await runInScope(b, async () => {
      await nextTurn();
      expect(currentScope()).toBe(b);
    });
    expect(currentScope()).toBeUndefined();
    releaseA();
    await runA;
    expect(seenInA).toEqual([a, a, a]);
    expect(currentScope()).toBeUndefined();

    const c = new ConnectionScope(3);
    await runInScope(c, async () => {
      await nextTurn();
      expect(currentScope()).toBe(c);
    });
    expect(currentScope()).toBeUndefined();
  });

  it('ends a run whose work throws at once, and keeps working after', async () => {
    const failing = () => runInScope(new ConnectionScope(), () => Promise.reject(new Error('no')));
    await expect(failing()).rejects.toThrow('no');
    expect(() =>
      runInScope(new ConnectionScope(), () => {
        throw new Error('sync');
      }),
    ).toThrow('sync');
    const scope = new ConnectionScope();
    await runInScope(scope, async () => {
      await nextTurn();
      expect(currentScope()).toBe(scope);
    });
  });
});
