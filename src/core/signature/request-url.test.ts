import { describe, expect, it } from 'vitest';
import { parseTrustedProxies } from '../net/trusted-proxies.js';
import { reconstructSignedUrl, type RequestUrlInput } from './request-url.js';

const trusted = parseTrustedProxies('10.0.0.0/8, fd00::/8');
const baseInput: RequestUrlInput = {
  isTrustedProxy: trusted,
  remoteAddress: '10.0.0.1',
  encrypted: false,
  headers: { host: 'app.internal:8080' },
  rawUrl: "/webhooks/twilio/video?tenant=o'brien&x=a+b%2B",
};
const base = baseInput;

describe('reconstructSignedUrl', () => {
  it('public URL: scheme, host as written, non-standard port and the stripped path prefix', () => {
    const url = reconstructSignedUrl({ ...base, publicUrl: 'https://Api.Example.com:8443/telehealth', remoteAddress: '203.0.113.9' });
    expect(url).toBe("https://Api.Example.com:8443/telehealth/webhooks/twilio/video?tenant=o'brien&x=a+b%2B");
  });

  it('public URL: a prefix the proxy kept is not doubled; a trailing slash is ignored', () => {
    const kept = { ...base, publicUrl: 'https://api.example.com/telehealth/', rawUrl: '/telehealth/webhooks/twilio/video' };
    expect(reconstructSignedUrl(kept)).toBe('https://api.example.com/telehealth/webhooks/twilio/video');
    // Only a whole segment counts as the prefix.
    expect(reconstructSignedUrl({ ...kept, rawUrl: '/telehealthx/cb' })).toBe('https://api.example.com/telehealth/telehealthx/cb');
  });

  it('public URL wins over forwarded headers, even from a trusted proxy', () => {
    const url = reconstructSignedUrl({
      ...base,
      publicUrl: 'https://api.example.com',
      headers: { host: 'x', 'x-forwarded-host': 'evil.test' },
    });
    expect(url).toBe("https://api.example.com/webhooks/twilio/video?tenant=o'brien&x=a+b%2B");
  });

  it('trusted proxy: X-Forwarded-Proto https and X-Forwarded-Host', () => {
    const headers = { host: 'app.internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'Api.Example.com' };
    expect(reconstructSignedUrl({ ...base, headers })).toBe("https://Api.Example.com/webhooks/twilio/video?tenant=o'brien&x=a+b%2B");
  });

  it('the same headers from an untrusted address are ignored', () => {
    const headers = {
      host: 'app.internal:8080',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
      forwarded: 'proto=https;host=evil.test',
      'x-forwarded-prefix': '/x',
    };
    expect(reconstructSignedUrl({ ...base, remoteAddress: '198.51.100.7', headers })).toBe(
      "http://app.internal:8080/webhooks/twilio/video?tenant=o'brien&x=a+b%2B",
    );
  });

  it('X-Forwarded-Port and X-Forwarded-Prefix', () => {
    const headers = {
      host: 'app:8080',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example.com:1',
      'x-forwarded-port': '8443',
      'x-forwarded-prefix': '/telehealth/',
    };
    expect(reconstructSignedUrl({ ...base, headers, rawUrl: '/cb' })).toBe('https://api.example.com:8443/telehealth/cb');
  });

  it('uses the value of the nearest proxy when a client sent its own (appended lists)', () => {
    const headers = {
      host: 'app',
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'http, https',
      'x-forwarded-host': 'evil.test, api.example.com',
    };
    expect(reconstructSignedUrl({ ...base, headers, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
  });

  it('walks back over a chain of trusted proxies, never into what the client wrote', () => {
    // client 203.0.113.5 → CDN 10.1.1.1 → LB 10.0.0.1 → us. The LB appended proto=http.
    const headers = {
      host: 'app',
      'x-forwarded-for': '203.0.113.5, 10.1.1.1',
      'x-forwarded-proto': 'https, http',
      'x-forwarded-host': 'api.example.com, lb.internal',
    };
    expect(reconstructSignedUrl({ ...base, headers, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
    const spoofed = { ...headers, 'x-forwarded-for': '10.9.9.9, 203.0.113.5, 10.1.1.1', 'x-forwarded-proto': 'http, https, http' };
    expect(reconstructSignedUrl({ ...base, headers: spoofed, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
  });

  it('believes only the header family the proxy writes: a client-written Forwarded is ignored behind an X-Forwarded proxy', () => {
    // An X-Forwarded-* proxy (the default family) passes the client's own Forwarded header through.
    const headers = {
      host: 'app',
      forwarded: 'proto=https;host=evil.test',
      'x-forwarded-for': '203.0.113.5',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'api.example.com',
    };
    expect(reconstructSignedUrl({ ...base, headers, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
    expect(reconstructSignedUrl({ ...base, forwardedHeaders: 'x-forwarded', headers, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
    // Only Forwarded alone (proxy writes no X-Forwarded-*): still ignored, the Host header stays.
    expect(reconstructSignedUrl({ ...base, headers: { host: 'app', forwarded: 'proto=https;host=evil.test' }, rawUrl: '/cb' })).toBe(
      'http://app/cb',
    );
    // A Forwarded proxy: then client-written X-Forwarded-* (prefix included) are ignored.
    const forwardedProxy = {
      host: 'app',
      forwarded: 'for=203.0.113.5;proto=https;host=api.example.com',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '81',
      'x-forwarded-prefix': '/evil',
    };
    expect(reconstructSignedUrl({ ...base, forwardedHeaders: 'forwarded', headers: forwardedProxy, rawUrl: '/cb' })).toBe(
      'https://api.example.com/cb',
    );
    expect(
      reconstructSignedUrl({
        ...base,
        forwardedHeaders: 'forwarded',
        headers: { host: 'app', 'x-forwarded-host': 'evil.test' },
        rawUrl: '/cb',
      }),
    ).toBe('http://app/cb');
  });

  it('RFC 7239 Forwarded: quoted values, the outermost trusted element, IPv6 for=', () => {
    const base: RequestUrlInput = { ...baseInput, forwardedHeaders: 'forwarded' };
    const single = { host: 'app', forwarded: 'for=203.0.113.5;proto=https;host="Api.Example.com:8443"' };
    expect(reconstructSignedUrl({ ...base, headers: single, rawUrl: '/cb?a=1' })).toBe('https://Api.Example.com:8443/cb?a=1');
    // The client's own element first, then the CDN's (for= the client), then the LB's (for= the CDN).
    const chain = {
      host: 'app',
      forwarded:
        'proto=http;host=evil.test, for=203.0.113.5;proto=https;host=api.example.com, for="[fd00::7]:4711";proto=http;host=lb.internal',
    };
    expect(reconstructSignedUrl({ ...base, headers: chain, rawUrl: '/cb' })).toBe('https://api.example.com/cb');
    // Garbage values are ignored field by field.
    const garbage = { host: 'app:1', forwarded: 'proto=javascript;host="a/b"' };
    expect(reconstructSignedUrl({ ...base, headers: garbage, rawUrl: '/cb' })).toBe('http://app:1/cb');
  });

  it('IPv6 and IPv4-mapped remote addresses', () => {
    const headers = { host: '[2001:db8::1]:8080', 'x-forwarded-proto': 'https' };
    expect(reconstructSignedUrl({ ...base, remoteAddress: 'fd00::1', headers, rawUrl: '/cb' })).toBe('https://[2001:db8::1]:8080/cb');
    expect(reconstructSignedUrl({ ...base, remoteAddress: '::ffff:10.2.3.4', headers, rawUrl: '/cb' })).toBe(
      'https://[2001:db8::1]:8080/cb',
    );
    expect(reconstructSignedUrl({ ...base, remoteAddress: '2001:db8::99', headers, rawUrl: '/cb' })).toBe('http://[2001:db8::1]:8080/cb');
    const port = { ...headers, 'x-forwarded-port': '443' };
    expect(reconstructSignedUrl({ ...base, remoteAddress: 'fd00::1', headers: port, rawUrl: '/cb' })).toBe('https://[2001:db8::1]:443/cb');
  });

  it('no proxy: the connection scheme and the Host header as received', () => {
    expect(
      reconstructSignedUrl({
        ...base,
        isTrustedProxy: () => false,
        encrypted: true,
        headers: { host: 'MyCompany.com' },
        rawUrl: '/a%3Fb?c=%27',
      }),
    ).toBe('https://MyCompany.com/a%3Fb?c=%27');
  });

  it('an absolute-form request target keeps only its path and query', () => {
    expect(
      reconstructSignedUrl({ ...base, isTrustedProxy: () => false, headers: { host: 'h.test' }, rawUrl: 'http://other.test:81/cb?x=1' }),
    ).toBe('http://h.test/cb?x=1');
  });
});
