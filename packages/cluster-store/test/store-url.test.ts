// Proves how openStore reads store URLs: etcd URLs with one or more endpoints and a required key
// prefix, embedded URLs as bare http(s) origins; anything else, and a token given to etcd, is
// refused with INVALID_STORE_URL before any connection is made.
import { describe, expect, it } from 'vitest';
import { openStore, parseEtcdUrl } from '../src/index.js';

describe('openStore URLs', () => {
  it('parses etcd endpoints and prefix', () => {
    expect(parseEtcdUrl('etcd://127.0.0.1:2379/ballast')).toEqual({ hosts: ['http://127.0.0.1:2379'], prefix: '/ballast' });
    expect(parseEtcdUrl('etcd://a.example:2379,b.example:12379,[::1]:2379/ballast/prod/')).toEqual({
      hosts: ['http://a.example:2379', 'http://b.example:12379', 'http://[::1]:2379'],
      prefix: '/ballast/prod',
    });
  });

  it('opens the backend the scheme names', async () => {
    const etcd = openStore('etcd://127.0.0.1:2379/ballast');
    const embedded = openStore('http://127.0.0.1:8099', { token: 't' });
    expect(etcd.kind).toBe('etcd');
    expect(embedded.kind).toBe('embedded');
    await etcd.close();
    await embedded.close();
    await expect(embedded.read()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it.each([
    'etcd://127.0.0.1:2379',
    'etcd://127.0.0.1:2379/',
    'etcd://127.0.0.1/ballast',
    'etcd://127.0.0.1:99999/ballast',
    'etcd://127.0.0.1:2379/bad prefix',
    'http://127.0.0.1:8099/v1/store',
    'http://127.0.0.1:8099/?x=1',
    'ftp://127.0.0.1:8099',
    'not a url',
  ])('refuses %s', (url) => {
    expect(() => openStore(url)).toThrow(expect.objectContaining({ code: 'INVALID_STORE_URL' }));
  });

  it('refuses a token for etcd', () => {
    expect(() => openStore('etcd://127.0.0.1:2379/ballast', { token: 't' })).toThrow(
      expect.objectContaining({ code: 'INVALID_STORE_URL' }),
    );
  });
});
